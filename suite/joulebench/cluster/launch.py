"""A launch's files on disk, and submitting them: results/<site>/_launch/<launch_id>/.

The folder holds manifest.json and one sbatch script per job (a job array
over the workloads that need the same number of nodes). Every file is written
atomically; an existing launch folder is never overwritten. Submitting runs
`sbatch --parsable` on each script and records the job id in the manifest,
which `joulebench slurm collect` later joins with sacct. Folders whose name
starts with "_" are not read as run records, so a launch can live beside the
records it produces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from joulebench.cluster.slurm import Runner, render_script, run_slurm
from joulebench.errors import InputError
from joulebench.files import load_json_model as load_json_file
from joulebench.files import write_bytes_atomic, write_text_atomic
from joulebench.formats import LaunchManifest

LAUNCH_FOLDER = "_launch"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LaunchFiles:
    folder: Path
    manifest: Path
    scripts: list[Path]


def new_launch_id(track: str, now: datetime) -> str:
    return f"{track}-{now.astimezone(timezone.utc):%Y%m%d-%H%M%S}"


def launch_folder(out_dir: Path, site: str, launch_id: str) -> Path:
    return Path(out_dir) / site / LAUNCH_FOLDER / launch_id


def scripts(manifest: LaunchManifest) -> dict[str, str]:
    """File name -> text of every sbatch script of a launch."""
    return {job.script: render_script(manifest, job) for job in manifest.jobs}


def write_launch(manifest: LaunchManifest) -> LaunchFiles:
    folder = launch_folder(Path(manifest.out_dir), manifest.site, manifest.launch_id)
    if folder.exists():
        raise InputError(f"{folder}: a launch with id {manifest.launch_id!r} exists already; "
                         "give another --launch-id (nothing was written)")
    written = []
    for name, text in scripts(manifest).items():
        path = folder / name
        write_bytes_atomic(path, text.encode("utf-8"), mode=0o755)
        written.append(path)
    manifest_path = folder / MANIFEST
    write_text_atomic(manifest_path, manifest.model_dump_json(indent=1) + "\n")
    return LaunchFiles(folder, manifest_path, written)


def load_manifest(path: Path) -> LaunchManifest:
    return load_json_file(LaunchManifest, Path(path), "launch manifest")


def find_manifests(runs_dir: Path) -> list[Path]:
    """Every launch manifest under a results folder (or one site's folder)."""
    runs_dir = Path(runs_dir)
    return sorted(runs_dir.glob(f"{LAUNCH_FOLDER}/*/{MANIFEST}")) + sorted(runs_dir.glob(f"*/{LAUNCH_FOLDER}/*/{MANIFEST}"))


def submit(files: LaunchFiles, run: Runner | None = None) -> LaunchManifest:
    """sbatch every script of a written launch; the job ids go into its manifest as each is accepted."""
    run = run or run_slurm
    manifest = load_manifest(files.manifest)
    jobs = list(manifest.jobs)
    for i, job in enumerate(jobs):
        if job.job_id is not None:
            continue  # submitted before (a second --submit after a failure part-way)
        # The task logs go beside the manifest (a hand-submitted script writes them where sbatch runs).
        log = files.folder / f"{Path(job.script).stem}-%A_%a.out"
        output = run(["sbatch", "--parsable", f"--output={log}", str(files.folder / job.script)]).strip()
        job_id = output.split(";")[0]
        if not job_id.isdigit():
            raise InputError(f"sbatch answered {output!r} for {job.script}, not a job id")
        jobs[i] = job.model_copy(update={"job_id": job_id, "submitted_at": datetime.now(timezone.utc)})
        manifest = manifest.model_copy(update={"jobs": jobs})
        write_text_atomic(files.manifest, manifest.model_dump_json(indent=1) + "\n")
    return manifest
