#!/usr/bin/env bash
# Several hosts on one machine, for Open MPI over TCP: network namespaces smhost1..smhostN (Linux,
# as root), each with its own address 10.77.0.K on a bridge, and a launcher wrapper that runs
# mpirun on host 1 and starts its daemons on the others through `ip netns exec` (as ssh would on
# real hosts: Open MPI's plm_rsh_agent).
#
#   bash Tools/mpi_hosts.sh up 3        # namespaces, addresses, hostfile, agent and wrapper in /tmp/seqmodels-hosts
#   /tmp/seqmodels-hosts/mpirun -np 3 .build/release/seqmodels classify --model M --input big.csv --output out.csv
#   SEQMODELS_TEST_MPIRUN=/tmp/seqmodels-hosts/mpirun swift test --filter DataParallelTests
#   bash Tools/mpi_hosts.sh down
#
# On real machines the same run is: mpirun --hostfile HOSTS --mca btl tcp,self -np N seqmodels …
# with seqmodels and the data at the same paths on every machine (or a shared file system).
set -euo pipefail
dir=/tmp/seqmodels-hosts
bridge=br-seqmodels
action=${1:-}
count=${2:-3}

down() {
    for ns in $(ip netns list 2>/dev/null | awk '/^smhost[0-9]+/ {print $1}'); do ip netns del "$ns"; done
    ip link del "$bridge" 2>/dev/null || true
    rm -rf "$dir"
}

case "$action" in
up)
    [ "$(id -u)" -eq 0 ] || { echo "network namespaces need root" >&2; exit 1; }
    command -v mpirun >/dev/null || { echo "Open MPI is missing: bash Tools/install-dependencies.sh --mpi" >&2; exit 1; }
    down
    mkdir -p "$dir"
    ip link add "$bridge" type bridge
    ip link set "$bridge" up
    : > "$dir/hostfile"
    for k in $(seq 1 "$count"); do
        ns=smhost$k
        ip netns add "$ns"
        ip link add "veth-sm$k" type veth peer name eth0 netns "$ns"
        ip link set "veth-sm$k" master "$bridge" up
        ip netns exec "$ns" ip addr add "10.77.0.$k/24" dev eth0
        ip netns exec "$ns" ip link set eth0 up
        ip netns exec "$ns" ip link set lo up
        echo "10.77.0.$k slots=1" >> "$dir/hostfile"
    done
    # The "ssh" of these hosts: run the daemon's command line in the namespace of its address.
    # Each host also gets a temporary directory of its own for Open MPI's session files (real
    # hosts have their own /tmp; sharing one, their daemons overwrite each other's files), and
    # the daemons do not share the machine's topology through shared memory mapped at a fixed
    # address (rtc_hwloc_vmhole none): with several daemons on one machine, that mapping
    # collided now and then and the daemon crashed in hwloc_shmem_topology_write.
    cat > "$dir/agent" <<AGENT
#!/bin/sh
host=\$1; shift
k=\${host##*.}
mkdir -p $dir/tmp-\$k
exec ip netns exec "smhost\$k" env TMPDIR=$dir/tmp-\$k OMPI_MCA_orte_tmpdir_base=$dir/tmp-\$k OMPI_MCA_rtc_hwloc_vmhole=none /bin/sh -c "\$*"
AGENT
    # mpirun on host 1; TCP between the hosts' addresses only (no shared memory between them).
    mkdir -p "$dir/tmp-1"
    cat > "$dir/mpirun" <<WRAPPER
#!/bin/sh
export TMPDIR=$dir/tmp-1 OMPI_MCA_orte_tmpdir_base=$dir/tmp-1 OMPI_MCA_rtc_hwloc_vmhole=none
exec ip netns exec smhost1 mpirun --allow-run-as-root --hostfile $dir/hostfile \\
    --mca plm_rsh_agent $dir/agent --mca btl tcp,self \\
    --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 "\$@"
WRAPPER
    chmod +x "$dir/agent" "$dir/mpirun"
    echo "$count hosts: $(paste -sd' ' "$dir/hostfile"); launcher: $dir/mpirun"
    ;;
down)
    down
    ;;
*)
    echo "usage: $0 up [HOSTS] | down" >&2
    exit 2
    ;;
esac
