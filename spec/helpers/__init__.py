"""What the chapters import: test helpers, one concern each.

- ``implementation``: the implementation under test, ``impl`` (the one seam);
- ``devices``: ``cpu_and_cuda()``, the CUDA skips and the CPU-vs-CUDA comparison;
- ``data``: the generated CIFAR-10 and MNIST sets the chapters share;
- ``note``: the study note, so docstrings can be checked against its text;
- ``checked_code``: the code a test runs, as text (what a "to do" outcome names);
- ``teach``: failure messages that say what the note expects and "did you ...?";
- ``classifier``: chapter 10's comparisons: the note's loop on the spec's batches, one check
  of training like the note, predictions made without the implementation;
- ``pictures``: what a test shows on the learner's page (a logged grid, a loss curve);
- ``oracles``: independent computations the implementation is compared with;
- ``releases``: release-dependent behaviour more than one chapter checks;
- ``drift``: the drift table (what changed since the note, by release);
- ``notebook``: chapter 17's harness: the note's fences read and run as notebook cells;
- ``tensorboard_files``: a TensorBoard run read back as TensorBoard shows it (chapter 12);
- ``faults``: real faults for the checkpoint chapter (small disks, failing calls, kills);
- ``environment``: versions, devices, threads and hypothesis profiles;
- ``once``: files an expensive fixture makes once per run, shared by xdist workers;
- ``processes``: code run where something happens for the first time in a process;
- ``run_report``: reading and writing the tools' JSON files, without importing torch.

The pytest plugins are in ``spec.plugin``, the command-line tools in ``spec.tools``.
"""
