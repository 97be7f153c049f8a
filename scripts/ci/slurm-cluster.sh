#!/usr/bin/env bash
# One-node Slurm 22.05 cluster with two fake GPUs, started by hand (no systemd), for CI and local tests.
#
#   scripts/ci/slurm-cluster.sh up     install slurm-wlm + munge if missing, write the config, start the
#                                      daemons, wait until the node is idle
#   scripts/ci/slurm-cluster.sh down   stop the daemons this script started, remove the fake GPUs
#   scripts/ci/slurm-cluster.sh env    print the line to eval so sinfo/sbatch find this cluster
#
# Everything lives under $CLASSIFY_SLURM_DIR (default /run/classify-slurm) so a real /etc/slurm is left
# alone; clients find the config through SLURM_CONF. Both verbs are idempotent. Needs root.
set -euo pipefail

dir=${CLASSIFY_SLURM_DIR:-/run/classify-slurm}
conf=$dir/slurm.conf
node=$(hostname -s)
# CPUs and memory are promises to the scheduler, not measurements: config_overrides lets 8 tasks share
# 2 cores, so a 4-task array runs at once on a small CI machine, and the sbatch headers' --mem fits.
cpus=${CLASSIFY_SLURM_CPUS:-8}
mem_mb=${CLASSIFY_SLURM_MEM_MB:-65536}
ctld_port=${CLASSIFY_SLURM_CTLD_PORT:-6817}
slurmd_port=${CLASSIFY_SLURM_SLURMD_PORT:-6818}

log() { printf 'slurm-cluster: %s\n' "$*" >&2; }

pid_alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
        && command -v sinfo >/dev/null; then
        return
    fi
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_config() {
    mkdir -p "$dir"/{state/ctld,state/d,log,run,dev}
    # Character devices, not regular files: slurmd rejects a gres File= that is not a device. 1:3 is
    # /dev/null's number, so a job that opens one does no harm.
    for i in 0 1; do
        [[ -c $dir/dev/nvidia$i ]] || mknod -m 666 "$dir/dev/nvidia$i" c 1 3
    done
    cat >"$conf" <<CONF
ClusterName=classify-ci
SlurmctldHost=$node
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state/ctld
SlurmdSpoolDir=$dir/state/d
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups in CI containers: track processes through /proc and bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0,sched_interval=1
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
NodeName=$node CPUs=$cpus RealMemory=$mem_mb Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
    cat >"$dir/gres.conf" <<CONF
AutoDetect=off
Name=gpu File=$dir/dev/nvidia0
Name=gpu File=$dir/dev/nvidia1
CONF
}

start_munge() {
    if pid_alive /run/munge/munged.pid; then return; fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    # --force: a stale socket from a killed munged would otherwise block the start.
    runuser -u munge -- munged --force
    for _ in $(seq 50); do
        if pid_alive /run/munge/munged.pid; then
            # down stops munged only when up started it: another service on this host may use it.
            touch "$dir/run/munged.ours"
            return
        fi
        sleep 0.1
    done
    log "munged did not start"; return 1
}

node_state() { SLURM_CONF=$conf sinfo -h -N -n "$node" -o '%T' 2>/dev/null | head -n1; }

up() {
    [[ $(id -u) -eq 0 ]] || { log "needs root"; exit 1; }
    install_packages
    write_config
    start_munge
    export SLURM_CONF=$conf
    if ! pid_alive "$dir/run/slurmctld.pid"; then
        # -i: ignore state from an earlier run (jobs, node states) that would not match this one.
        slurmctld -i -f "$conf"
    fi
    if ! pid_alive "$dir/run/slurmd.pid"; then
        slurmd -f "$conf"
    fi
    local state=""
    for _ in $(seq 120); do
        state=$(node_state)
        case $state in
            idle | mixed | allocated) log "node $node is $state"; return 0 ;;
            down* | drain* | fail*)
                # ReturnToService=2 revives it once slurmd registers; nudge it in case it stayed down.
                scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    log "node $node did not become idle (state: ${state:-unknown}); logs in $dir/log"
    tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    return 1
}

stop_pidfile() {
    local pidfile=$1 name=$2 pid
    pid_alive "$pidfile" || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "$name ($pid) ignored SIGTERM; killing it"
    kill -9 "$pid" 2>/dev/null || true
}

down() {
    if [[ -f $conf ]]; then
        # Running jobs would keep slurmstepd children alive after slurmd exits.
        SLURM_CONF=$conf scancel --full --user=root 2>/dev/null || true
    fi
    stop_pidfile "$dir/run/slurmd.pid" slurmd
    stop_pidfile "$dir/run/slurmctld.pid" slurmctld
    if [[ -f $dir/run/munged.ours ]]; then
        stop_pidfile /run/munge/munged.pid munged
    fi
    rm -rf "$dir"
}

case ${1:-} in
    up) up ;;
    down) down ;;
    env) printf 'export SLURM_CONF=%q\n' "$conf" ;;
    *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
