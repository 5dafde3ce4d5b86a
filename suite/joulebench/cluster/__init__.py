"""Beyond one machine: Slurm across jobs, torchrun (torch.distributed) inside a job.

joulebench builds on two existing engines and adds none of its own:

- slurm: pure functions over Slurm's plain text: the sbatch script and
  manifest of a launch, the scheduler block of a record (from SLURM_*
  variables and `scontrol`), `sstat`/`sacct -P` parsing, the boundary of the
  cluster's energy plugin, and `collect` (sacct history -> an estimates file).
  Slurm's energy numbers are always an estimate to score, never truth.
- launch: writes a launch's files atomically under results/<site>/_launch/<id>/
  and submits them with sbatch only when asked.
- torchrun: the rank side of a distributed window: the launcher's environment,
  a gloo side group for barriers and gathers, barrier-aligned edges and their
  skew, and starting one node's ranks in-process (`--nproc-per-node`). The
  distributed runner that drives them is joulebench.measure.distributed.

This package sits at the measure layer: it may import formats, catalog,
errors, files and measure, never scoring, board or cli.
"""
