"""Checks, one module per rule family. Every ``Check`` subclass defined in a module of
this package is discovered automatically; nothing needs registering by hand."""
