// The optimlint extension: starts `optimlint server` (stdio) for Python files and Jupyter
// notebooks and lets vscode-languageclient do the rest (diagnostics, quick fixes, "fix all"
// on `source.fixAll.optimlint`, hover). The server does the work; this file only wires it.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("optimlint");
  const serverOptions = { command: config.get("path") || "optimlint", args: ["server"] };
  const report = config.get("runtimeReport");
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "untitled", language: "python" },
      { notebook: "jupyter-notebook", language: "python" },
    ],
    initializationOptions: report ? { runtimeReport: report } : {},
  };
  client = new LanguageClient("optimlint", "optimlint", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("optimlint.runtimeReport") && client) {
        const value = vscode.workspace.getConfiguration("optimlint").get("runtimeReport");
        client.sendNotification("workspace/didChangeConfiguration", {
          settings: { optimlint: { runtimeReport: value || null } },
        });
      }
    })
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
