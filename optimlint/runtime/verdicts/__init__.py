"""The verdicts: one module per rule family, turning the monitor's records into observations.

Each function is called by ``runtime.monitor`` at one event (a step, a clip, a construction,
a scheduler step, the end of the run) with the records it needs, and reports through
``mon.observe`` / ``mon.once``. Nothing here installs a hook or reads a tensor value.

- ``order``: OPT101-OPT106 (the training step's order, per optimizer)
- ``schedulers``: OPT201-OPT203
- ``construction``: OPT301-OPT304 (what the optimizer was built with)
- ``groups``: OPT401-OPT403 (parameter groups; OPT301 for a Keras group key)
- ``amp``: OPT501-OPT503 (GradScaler)
- ``hygiene``: OPT603
"""
