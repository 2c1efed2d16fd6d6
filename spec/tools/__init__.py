"""The command-line tools the Makefile runs for upgrade verification (``python -m spec.tools.X``).

- ``companions``: the supported releases and what goes beside each (``make matrix``, atlas);
- ``compare``: the upgrade report between two run reports;
- ``speed``: the note's training core timed on two torch installs, alternating;
- ``atlas``: the atlas page from the per-release run reports (``make atlas``, CI);
- ``profile_suite``: where ``make test``'s time goes (``make profile-suite``);
- ``explain``: someone else's old note run today, its failures and warnings matched to the
  drift table's rows (``make explain FILE=``).

Mutation testing has its own tool, ``spec.mutation``; the exercises theirs, ``spec.exercises``.
"""
