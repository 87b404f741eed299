#!/usr/bin/env python3
"""Failover time of an xlb VRRP pair and a keepalived 2.2.7 pair, measured in the same run.

Failover time = from the signal sent to the master until the VIP answers ARP from the other
node (a client in the same L2 segment asks every 2 ms). Cases: SIGKILL and SIGTERM, VRRPv2
advert_int 1 and VRRPv3 advert_int 0.1. Needs root; everything lives in namespaces named with
a per-run suffix on 198.18.0.0/24 and is removed on exit.

usage: failover.py [--node PATH/vrrp_node] [--runs N]
"""
import argparse, glob, os, shutil, signal, socket, struct, subprocess, sys, tempfile, time

VIP = '198.18.0.100'
PROBER = r'''
import socket, struct, sys, time
vip, want_mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', ''))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(('eth0', 0))
mac = s.getsockname()[4]
req = (b'\xff' * 6 + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac +
       socket.inet_aton('198.18.0.10') + b'\0' * 6 + socket.inet_aton(vip))
s.settimeout(0.002)
print('READY', flush=True)
target = socket.inet_aton(vip)
while True:
    s.send(req)
    end = time.monotonic() + 0.002
    while time.monotonic() < end:
        try:
            f = s.recv(128)
        except socket.timeout:
            break
        if len(f) >= 42 and f[12:14] == b'\x08\x06' and f[20:22] == b'\x00\x02' \
           and f[22:28] == want_mac and f[28:32] == target:
            print('ANSWERED %.6f' % time.monotonic(), flush=True)
            sys.exit(0)
'''


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout


class Lab:
    def __init__(self):
        self.sfx = '%dx%d' % (os.getpid() % 100000, int(time.time()) % 1000)
        self.ns = {n: 'xvf%s%s' % (n, self.sfx) for n in ('a', 'b', 'c', 's')}
        self.dir = tempfile.mkdtemp(prefix='xlb-failover-')
        self.procs = []
        for ns in self.ns.values():
            sh('ip netns add %s' % ns)
            sh('ip -n %s link set lo up' % ns)
        s = self.ns['s']
        sh('ip -n %s link add br0 type bridge mcast_snooping 0' % s)
        sh('ip -n %s link set br0 up' % s)
        for i, (n, addr) in enumerate((('a', '198.18.0.1'), ('b', '198.18.0.2'), ('c', '198.18.0.10'))):
            ns = self.ns[n]
            sh('ip link add xvf%s%d netns %s type veth peer name p%s netns %s' % (self.sfx, i, ns, n, s))
            sh('ip -n %s link set xvf%s%d name eth0' % (ns, self.sfx, i))
            sh('ip -n %s addr add %s/24 dev eth0' % (ns, addr))
            sh('ip -n %s link set eth0 up' % ns)
            sh('ip -n %s link set p%s master br0' % (s, n))
            sh('ip -n %s link set p%s up' % (s, n))
        for n in 'abc':
            for _ in range(250):
                if sh('ip netns exec %s cat /sys/class/net/eth0/operstate' % self.ns[n]).strip() == 'up':
                    break
                time.sleep(0.02)
        self.mac = {n: sh('ip netns exec %s cat /sys/class/net/eth0/address' % self.ns[n]).strip()
                    for n in 'ab'}

    def spawn(self, node, argv, log):
        f = open(os.path.join(self.dir, log), 'w')
        p = subprocess.Popen(['ip', 'netns', 'exec', self.ns[node]] + argv, stdout=f,
                             stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        return p

    def clear_vips(self):
        for n in 'ab':
            sh('ip -n %s addr del %s/32 dev eth0' % (self.ns[n], VIP), check=False)

    def has_vip(self, node):
        return (' %s/' % VIP) in sh('ip -n %s -o addr show dev eth0' % self.ns[node], check=False)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in self.ns.values():
            sh('ip netns del %s' % ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


class XlbPair:
    name = 'xlb'

    def __init__(self, lab, node_bin, version, adv):
        self.lab, self.bin, self.version, self.adv = lab, node_bin, version, adv

    def start(self, n, prio):
        p = self.lab.spawn(n, [self.bin, '--interface', 'eth0', '--priority', str(prio),
                               '--version', str(self.version), '--advert-int', self.adv,
                               '--vip', VIP, '--log-level', 'warn'], 'xlb-%s.log' % n)
        return {'main': p}

    def kill(self, h, sig):
        h['main'].send_signal(sig)

    def stop(self, h):
        for p in h.values():
            if p.poll() is None:
                p.kill()
                p.wait()


class KeepalivedPair:
    name = 'keepalived'

    def __init__(self, lab, version, adv):
        self.lab, self.version, self.adv = lab, version, adv

    def start(self, n, prio):
        d = self.lab.dir
        conf = os.path.join(d, 'ka-%s.conf' % n)
        with open(conf, 'w') as f:
            f.write('global_defs {\n router_id ka%s%s\n}\nvrrp_instance VI_1 {\n state BACKUP\n'
                    ' interface eth0\n virtual_router_id 51\n priority %d\n advert_int %s\n'
                    ' version %d\n virtual_ipaddress {\n  %s/32 dev eth0\n }\n}\n'
                    % (n, self.lab.sfx, prio, self.adv, self.version, VIP))
        pids = {k: os.path.join(d, 'ka-%s.%s.pid' % (n, k)) for k in ('main', 'vrrp', 'check')}
        for p in pids.values():
            if os.path.exists(p):
                os.unlink(p)
        p = self.lab.spawn(n, ['keepalived', '-f', conf, '-p', pids['main'], '-r', pids['vrrp'],
                               '-c', pids['check'], '-n', '-l', '--vrrp'], 'ka-%s.log' % n)
        wait(lambda: os.path.exists(pids['vrrp']) and os.path.getsize(pids['vrrp']) > 0, 5)
        return {'main': p, 'vrrp_pidfile': pids['vrrp']}

    def child(self, h):
        try:
            return int(open(h['vrrp_pidfile']).read().strip())
        except (OSError, ValueError):
            return None

    def kill(self, h, sig):
        if sig == signal.SIGKILL:
            # The VRRP child first: killed after its parent it would get SIGTERM and leave
            # gracefully (priority 0), which is not a crash.
            c = self.child(h)
            if c:
                os.kill(c, signal.SIGKILL)
        h['main'].send_signal(sig)

    def stop(self, h):
        c = self.child(h)
        if h['main'].poll() is None:
            h['main'].kill()
            h['main'].wait()
        if c:
            try:
                os.kill(c, signal.SIGKILL)
            except ProcessLookupError:
                pass


def measure(lab, pair, sig, settle):
    lab.clear_vips()
    a = pair.start('a', 150)
    time.sleep(0.05)
    b = pair.start('b', 100)
    try:
        if not wait(lambda: lab.has_vip('a') and not lab.has_vip('b'), 15):
            return None
        time.sleep(settle)  # the backup has heard the master for a while
        prober = subprocess.Popen(['ip', 'netns', 'exec', lab.ns['c'], sys.executable, '-c', PROBER,
                                   VIP, lab.mac['b']], stdout=subprocess.PIPE, text=True)
        lab.procs.append(prober)
        if prober.stdout.readline().strip() != 'READY':
            return None
        t0 = time.monotonic()
        pair.kill(a, sig)
        line = ''
        deadline = time.monotonic() + 15
        import select
        while time.monotonic() < deadline:
            r, _, _ = select.select([prober.stdout], [], [], 0.5)
            if r:
                line = prober.stdout.readline()
                break
        if prober.poll() is None:
            prober.kill()
        prober.wait()
        if not line.startswith('ANSWERED'):
            return None
        return float(line.split()[1]) - t0
    finally:
        pair.stop(a)
        pair.stop(b)


def find_node():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    hits = sorted(glob.glob(os.path.join(root, 'build*', '**', 'vrrp_node'), recursive=True),
                  key=os.path.getmtime, reverse=True)
    return hits[0] if hits else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--node', default=find_node(), help='vrrp_node binary')
    ap.add_argument('--runs', type=int, default=3)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('failover.py: needs root (namespaces)')
    if not args.node or not os.access(args.node, os.X_OK):
        sys.exit('failover.py: vrrp_node not found; build it or pass --node')
    have_ka = shutil.which('keepalived') is not None
    lab = Lab()
    rows = []
    try:
        for version, adv in ((2, '1'), (3, '0.1')):
            settle = 2 * float(adv) + 0.5
            for sig in (signal.SIGKILL, signal.SIGTERM):
                row = {}
                pairs = [XlbPair(lab, args.node, version, adv)]
                if have_ka:
                    pairs.append(KeepalivedPair(lab, version, adv))
                for i in range(args.runs):
                    for pair in pairs:  # interleaved, so that both see the same machine load
                        t = measure(lab, pair, sig, settle)
                        row.setdefault(pair.name, []).append(t)
                rows.append(('v%d advert_int %s' % (version, adv), sig.name, row))
    finally:
        lab.close()

    def fmt(ts):
        ok = sorted(t for t in ts if t is not None)
        fail = len(ts) - len(ok)
        if not ok:
            return 'n/a'
        s = '%.3f / %.3f / %.3f' % (ok[0], ok[len(ok) // 2], ok[-1])
        return s + (' (%d failed)' % fail if fail else '')

    print('failover time in seconds (signal -> VIP answers ARP from the backup), %d runs each' % args.runs)
    print('%-20s %-8s  %-28s  %-28s' % ('case', 'signal', 'xlb min / median / max',
                                        'keepalived min / median / max'))
    for case, sig, row in rows:
        print('%-20s %-8s  %-28s  %-28s' % (case, sig, fmt(row.get('xlb', [])),
                                            fmt(row.get('keepalived', [])) if have_ka else 'not installed'))


if __name__ == '__main__':
    main()
