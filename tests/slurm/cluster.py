"""A real Slurm cluster of two emulated nodes on this machine, for the CI lane (`make test-slurm`).

Test infrastructure, not part of joulebench. Debian's own packages, unmodified:
munged, MariaDB, slurmdbd (accounting, so `sacct` has energy), slurmctld and
two slurmd (n1, n2) on 127.0.0.1, each in a private mount namespace with its own
synthetic RAPL source (tests/doubles/synthetic_rapl.py: n1 draws 100 W, n2
50 W) that Slurm's acct_gather_energy/rapl plugin and joulebench's RaplMeter
both read. The host's /dev and /sys are never written: the synthetic files sit
on a tmpfs and an overlay mounted inside each node's namespace only.

Everything is private to one folder DIR: configuration, state, logs, the
munge key and socket, the database; ports are picked free at start. Every
process this module starts runs in the foreground of a child and is recorded
in DIR/pids as "name pid starttime"; `down` cancels the cluster's jobs, then
stops exactly those processes, newest first (a PID whose start time no longer
matches is someone else's and is left alone).

    python -m tests.slurm.cluster up DIR      # prints: export SLURM_CONF=DIR/slurm.conf
    python -m tests.slurm.cluster down DIR
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYNTHETIC_RAPL = HERE.parent / "doubles" / "synthetic_rapl.py"
# Synthetic CPU package power per emulated node: the truth the cluster tests check against.
NODE_WATTS: dict[str, float] = {"n1": 100.0, "n2": 50.0}
CLUSTER_NAME = "jbci"
PARTITION = "ci"
DAEMON_BINARIES = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd")
CLIENT_BINARIES = ("mariadb", "sacctmgr", "sbatch", "srun", "sstat", "sacct", "scontrol", "squeue", "scancel",
                   "sinfo", "unshare")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


class ClusterError(RuntimeError):
    pass


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def missing_prerequisites() -> list[str]:
    """Why this machine cannot host the cluster; empty when it can."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (the cluster mounts a tmpfs and an overlay in private mount namespaces)")
    missing = [b for b in (*DAEMON_BINARIES, *CLIENT_BINARIES) if _which(b) is None]
    if missing:
        problems.append(f"not installed: {', '.join(missing)} (Debian: apt-get install slurm-wlm slurmdbd munge "
                        "mariadb-server)")
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("the kernel offers no overlay filesystem")
    if not Path("/dev/cpu/0").is_dir():
        problems.append("/dev/cpu/0 does not exist (the synthetic MSR file is mounted over it, never created)")
    if not problems:
        probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            problems.append(f"`unshare -m` fails here ({probe.stderr.strip()}): an unprivileged container?")
    return problems


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot): with the PID, a unique identity."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def _alive(pid: int, started: str) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    if "\nState:\tZ" in status:
        return False
    return _start_time(pid) == started


@dataclass
class Cluster:
    dir: Path
    node_watts: dict[str, float]

    @property
    def conf(self) -> Path:
        return self.dir / "slurm.conf"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        return env

    def run(self, *argv: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
        result = subprocess.run(list(argv), capture_output=True, text=True, env=self.env(), timeout=timeout)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
        return result


class _Starter:
    def __init__(self, directory: Path):
        self.dir = directory
        self.pids = directory / "pids"

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.dir / f"{name}.out", "ab")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
        log.close()
        self.keep(name, process.pid)
        return process

    def keep(self, name: str, pid: int) -> None:
        started = _start_time(pid)
        if started is None:
            raise ClusterError(f"{name} (pid {pid}) exited at once; see {self.dir / (name + '.out')}")
        with open(self.pids, "a") as handle:
            handle.write(f"{name} {pid} {started}\n")


def _wait(what: str, ready, directory: Path, logs: list[str], timeout_s: float = START_TIMEOUT_S,
          process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if process is not None and process.poll() is not None:
            timeout_s = time.monotonic() - deadline + timeout_s  # report how long it lived
            break
        time.sleep(0.25)
    tails = []
    for name in logs:
        path = directory / name
        if path.exists():
            tails.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
    state = "exited" if process is not None and process.poll() is not None else "not ready"
    raise ClusterError(f"{what} {state} after {timeout_s:.0f} s\n" + "\n".join(tails))


def _ok(argv: list[str], env: dict[str, str] | None = None) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, env=env, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _slurm_conf(d: Path, munge: Path, host: str, ports: dict[str, int], node_watts: dict[str, float]) -> str:
    nodes = "\n".join(
        f"NodeName={name} NodeHostname={host} NodeAddr=127.0.0.1 Port={ports[name]} CPUs=1 RealMemory=1000 State=UNKNOWN"
        for name in node_watts
    )
    return f"""\
# CI only (tests/slurm/cluster.py): two emulated nodes on one machine, accounting in slurmdbd.
ClusterName={CLUSTER_NAME}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ports['slurmctld']}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge}/munge.socket
MailProg=/bin/true
StateSaveLocation={d}/state
SlurmctldPidFile={d}/slurmctld.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdPidFile={d}/slurmd-%n.pid
SlurmdLogFile={d}/slurmd-%n.log
SlurmdSpoolDir={d}/spool-%n
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
MinJobAge=30
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1,energy=1
AcctGatherNodeFreq=1
AcctGatherEnergyType=acct_gather_energy/rapl
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost={host}
AccountingStoragePort={ports['slurmdbd']}
# With slurmdbd, the munge socket for accounting connections is named here (slurm.conf(5)).
AccountingStoragePass={munge}/munge.socket
AccountingStorageTRES=cpu,mem,energy,node,billing
JobCompType=jobcomp/none
{nodes}
PartitionName={PARTITION} Nodes={','.join(node_watts)} Default=YES MaxTime=UNLIMITED State=UP
"""


def _slurmdbd_conf(d: Path, munge: Path, host: str, ports: dict[str, int]) -> str:
    return f"""\
DbdHost={host}
DbdPort={ports['slurmdbd']}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={munge}/munge.socket
PidFile={d}/slurmdbd.pid
LogFile={d}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports['mariadb']}
StorageUser=slurm
StoragePass=ci
StorageLoc=slurm_acct_db
"""


# One node: a private mount namespace with the synthetic RAPL files, then slurmd in it.
_NODE_SCRIPT = r"""
set -e
mount -t tmpfs -o size=1m jb-synthetic-msr /dev/cpu/0
mount -t tmpfs -o size=4m jb-synthetic-sys "$JB_NS"
mkdir -p "$JB_NS/upper" "$JB_NS/work"
mount -t overlay jb-synthetic-overlay -o lowerdir=/sys/class,upperdir="$JB_NS/upper",workdir="$JB_NS/work" /sys/class
"$JB_PYTHON" "$JB_SYNTHETIC" "$JB_WATTS" > "$JB_DIR/synthetic-rapl-$JB_NODE.out" 2>&1 &
echo $! > "$JB_DIR/synthetic-rapl-$JB_NODE.pid"
i=0
while [ ! -s /sys/class/powercap/intel-rapl:0/energy_uj ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
exec "$JB_SLURMD" -D -N "$JB_NODE"
"""


def up(directory: Path, node_watts: dict[str, float] | None = None) -> Cluster:
    """Start the cluster in `directory` (created); on any failure stop what was started and raise."""
    node_watts = dict(node_watts or NODE_WATTS)
    d = Path(directory).resolve()
    for sub in ("state", "db", *(f"spool-{n}" for n in node_watts), *(f"ns-{n}" for n in node_watts)):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "pids").write_text("")
    starter = _Starter(d)
    cluster = Cluster(d, node_watts)
    host = socket.gethostname().split(".")[0]
    ports = {name: _free_port() for name in ("mariadb", "slurmdbd", "slurmctld", *node_watts)}
    try:
        _start(cluster, starter, host, ports)
    except BaseException:
        down(d)
        raise
    return cluster


def _start(cluster: Cluster, starter: _Starter, host: str, ports: dict[str, int]) -> None:
    d = cluster.dir
    env = cluster.env()

    # munge: a key and a socket of this cluster's own; the host's munged, if any, is not involved.
    # munged wants every directory above its socket searchable by all (pytest's are not): its
    # folder is a link from DIR/munge to a fresh one in the system's temporary directory.
    munge = Path(tempfile.mkdtemp(prefix="jb-ci-munge-"))
    munge.chmod(0o755)
    (d / "munge").symlink_to(munge)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    munged = starter.start("munged", [_which("munged"), "--foreground", f"--socket={munge}/munge.socket",
                                      f"--key-file={key}", f"--pid-file={munge}/munged.pid",
                                      f"--log-file={munge}/munged.log", f"--seed-file={munge}/munged.seed"])
    _wait("munged", lambda: (munge / "munge.socket").exists(), d, ["munged.out"], process=munged)

    # MariaDB for slurmdbd: a private datadir, socket and port.
    installed = subprocess.run([_which("mariadb-install-db"), "--no-defaults", f"--datadir={d}/db", "--user=root",
                                "--auth-root-authentication-method=socket"], capture_output=True, text=True, timeout=120)
    if installed.returncode != 0:
        raise ClusterError(f"mariadb-install-db failed ({installed.returncode}): "
                           f"{(installed.stderr or installed.stdout)[-2000:]}")
    sock = d / "mysql.sock"
    mariadbd = starter.start("mariadbd", [_which("mariadbd"), "--no-defaults", f"--datadir={d}/db", "--user=root",
                               f"--socket={sock}", "--bind-address=127.0.0.1", f"--port={ports['mariadb']}",
                               "--innodb-buffer-pool-size=64M", f"--log-error={d}/mariadb.err"])
    sql = [_which("mariadb"), "--no-defaults", "-S", str(sock), "-uroot"]
    _wait("mariadbd", lambda: _ok([*sql, "-e", "select 1"]), d, ["mariadb.err"], process=mariadbd)
    subprocess.run([*sql, "-e", "CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'ci'; "
                    "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'ci'; "
                    "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; "
                    "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"], check=True, capture_output=True)

    cluster.conf.write_text(_slurm_conf(d, munge, host, ports, cluster.node_watts))
    dbd = d / "slurmdbd.conf"  # slurmdbd looks for it beside SLURM_CONF; it must be private
    dbd.write_text(_slurmdbd_conf(d, munge, host, ports))
    dbd.chmod(0o600)

    slurmdbd = starter.start("slurmdbd", [_which("slurmdbd"), "-D"], env=env)
    _wait("slurmdbd", lambda: _ok(["sacctmgr", "-n", "list", "cluster"], env), d, ["slurmdbd.out", "slurmdbd.log"],
          process=slurmdbd)
    for argv in (["add", "cluster", CLUSTER_NAME], ["add", "account", "ci"], ["add", "user", "root", "account=ci"]):
        cluster.run("sacctmgr", "-i", *argv)

    slurmctld = starter.start("slurmctld", [_which("slurmctld"), "-D", "-i"], env=env)
    _wait("slurmctld", lambda: "UP" in cluster.run("scontrol", "ping", check=False).stdout, d,
          ["slurmctld.out", "slurmctld.log"], process=slurmctld)

    for node, watts in cluster.node_watts.items():
        node_env = {**env, "JB_NS": str(d / f"ns-{node}"), "JB_DIR": str(d), "JB_NODE": node, "JB_WATTS": str(watts),
                    "JB_PYTHON": sys.executable, "JB_SYNTHETIC": str(SYNTHETIC_RAPL), "JB_SLURMD": _which("slurmd")}
        starter.start(f"slurmd-{node}", ["unshare", "-m", "--propagation", "private", "sh", "-c", _NODE_SCRIPT],
                      env=node_env)

    def idle() -> bool:
        states = cluster.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split("\n")
        return sorted(s.split()[0] for s in states if s.strip().endswith(" idle")) == sorted(cluster.node_watts)

    _wait("the nodes", idle, d, [f"slurmd-{n}.out" for n in cluster.node_watts]
          + [f"slurmd-{n}.log" for n in cluster.node_watts] + ["slurmctld.log"])
    for node in cluster.node_watts:
        starter.keep(f"synthetic-rapl-{node}", int((d / f"synthetic-rapl-{node}.pid").read_text()))


def down(directory: Path) -> list[str]:
    """Cancel the cluster's jobs, then stop every recorded process, newest first; returns warnings."""
    d = Path(directory).resolve()
    warnings: list[str] = []
    pids_file = d / "pids"
    if not pids_file.exists():
        return warnings
    entries = [line.split() for line in pids_file.read_text().splitlines() if line.strip()]
    cluster = Cluster(d, NODE_WATTS)
    names = {name for name, *_ in entries}
    if {"slurmctld", "slurmd-n1"} <= names and cluster.conf.exists():
        jobs = cluster.run("squeue", "-h", "-o", "%i", check=False, timeout=20).stdout.split()
        if jobs:
            cluster.run("scancel", *jobs, check=False, timeout=20)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and cluster.run("squeue", "-h", check=False, timeout=20).stdout.strip():
                time.sleep(0.5)
    for name, pid_text, started in reversed(entries):
        pid = int(pid_text)
        if not _alive(pid, started):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline and _alive(pid, started):
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid, started):
            warnings.append(f"{name} (pid {pid}) ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s; killed")
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    link = d / "munge"
    if link.is_symlink() and link.resolve().name.startswith("jb-ci-munge-"):
        shutil.rmtree(link.resolve(), ignore_errors=True)
    return warnings


def _reap(pid: int) -> None:
    """Collect the exit status of a child of this process (so it is not left a zombie)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("up", "down"):
        sys.stderr.write("usage: python -m tests.slurm.cluster up|down DIR\n")
        return 2
    action, directory = argv
    if action == "up":
        problems = missing_prerequisites()
        if problems:
            sys.stderr.write("cannot start the CI cluster: " + "; ".join(problems) + "\n")
            return 1
        t0 = time.monotonic()
        cluster = up(Path(directory))
        sys.stderr.write(f"cluster up in {time.monotonic() - t0:.1f} s\n")
        sys.stdout.write(f"export SLURM_CONF={cluster.conf}\n")
        return 0
    for warning in down(Path(directory)):
        sys.stderr.write(f"warning: {warning}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
