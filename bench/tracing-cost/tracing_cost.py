#!/usr/bin/python3
"""bench/tracing-cost: server CPU per call with tracing off, metrics only and
every call traced to a live OTLP receiver (BENCHMARKS.md section 12).

Each configuration is a fresh cqmux-server (--threads=1, in-memory store)
pinned to CPU 0 (every thread of it, the span export thread included);
cqmux-load and the receiver run on CPU 1. The figure is the server's
utime + stime from /proc/PID/stat over a fixed number of calls (warm-up
excluded), which competing processes on a shared machine inflate far less
than they do throughput. Configurations alternate within each repeat;
medians are printed.

  bench/tracing-cost/tracing_cost.py --build=build --calls=200000 --repeats=5

It stops only the processes it started and removes only its temporary files.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf('SC_CLK_TCK')
RECEIVER = os.path.join(REPO, 'tests/server/observability/tracing/otlp_receiver.py')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_port(port, proc, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'{what} exited at start')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f'{what} did not listen on {port}')


def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(args, extra_flags, perf_file=None):
    port = free_port()
    cmd = ['taskset', '-c', '0', args.server or os.path.join(args.build, 'bin', 'cqmux-server'),
           f'--listen=127.0.0.1:{port}', '--threads=1', '--store=memory'] + extra_flags
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_port(port, server, 'cqmux-server')
        load = ['taskset', '-c', '1', os.path.join(args.build, 'bin', 'cqmux-load'),
                f'--target=127.0.0.1:{port}', '--threads=1', '--json', '--progress=false',
                '--scenario=capitalize', '--payload-bytes=100', '--concurrency=100',
                '--connections=4']
        # Warm-up as its own run, so that the measured ticks cover exactly
        # --calls calls.
        subprocess.run(load + ['--requests=20000', '--warmup=0s'], check=True,
                       capture_output=True)
        perf = None
        if perf_file:
            perf = subprocess.Popen(['perf', 'record', '-g', '-F', '2000', '-o', perf_file,
                                     '-p', str(server.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # perf attaches
        before = cpu_ticks(server.pid)
        t = time.time()
        p = subprocess.run(load + [f'--requests={args.calls}', '--warmup=0s'],
                           capture_output=True, text=True)
        wall = time.time() - t
        # Let the exporter send what the run left queued: its CPU counts.
        time.sleep(args.settle)
        after = cpu_ticks(server.pid)
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        report = json.loads(p.stdout)
        if not report['clean'] or report['ok'] != args.calls:
            raise RuntimeError(f'load not clean: {p.stdout[:400]}')
        return (after - before) / CLK_TCK * 1e6 / args.calls, report['calls_per_s'], wall
    finally:
        stop(server)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', default=os.path.join(REPO, 'build'))
    ap.add_argument('--python', default=None,
                    help='Python with opentelemetry-proto and grpcio (default BUILD/trace-venv '
                         'or /work/main/build/trace-venv)')
    ap.add_argument('--server', default=None, help='cqmux-server binary (default BUILD/bin/...)')
    ap.add_argument('--receiver', default=RECEIVER,
                    help='OTLP receiver script taking a port argument (default the tests\')')
    ap.add_argument('--perf', default=None,
                    help='also record each configuration\'s server with perf record -g into '
                         'PERF.CONFIG (one extra run each, before the measured ones)')
    ap.add_argument('--calls', type=int, default=200000)
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--settle', type=float, default=2.5,
                    help='seconds after the run before reading CPU (exporter drains; default 2.5)')
    ap.add_argument('--configs', default='off,metrics,traced')
    args = ap.parse_args()
    python = args.python or os.path.join(args.build, 'trace-venv', 'bin', 'python')
    rport = free_port()
    receiver = subprocess.Popen(['taskset', '-c', '1', python, args.receiver, str(rport)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    configs = {
        'off': ['--metrics-listen='],
        'metrics': [f'--metrics-listen=127.0.0.1:{free_port()}'],
        'traced': ['--metrics-listen=', f'--otlp-endpoint=127.0.0.1:{rport}',
                   '--trace-sample-ratio=1'],
    }
    names = args.configs.split(',')
    results = {n: [] for n in names}
    try:
        wait_port(rport, receiver, 'receiver')
        if args.perf:
            for n in names:
                measure(args, configs[n], f'{args.perf}.{n}')
        print('uptime before:', open('/proc/loadavg').read().strip(), file=sys.stderr)
        for r in range(args.repeats):
            for n in names:
                us, rps, wall = measure(args, configs[n])
                results[n].append(us)
                print(f'repeat {r + 1} {n:8s} {us:6.2f} us CPU/call  {rps:9,.0f} calls/s  '
                      f'load {open("/proc/loadavg").read().split()[0]}', file=sys.stderr,
                      flush=True)
        print('uptime after:', open('/proc/loadavg').read().strip(), file=sys.stderr)
    finally:
        stop(receiver)
    base = statistics.median(results[names[0]])
    print('| configuration | server CPU us/call per run | median | vs ' + names[0] + ' |')
    print('|---|---|---:|---:|')
    for n in names:
        m = statistics.median(results[n])
        print(f'| {n} | {", ".join(f"{v:.2f}" for v in results[n])} | {m:.2f} | '
              f'{(m / base - 1) * 100:+.1f} % |')


if __name__ == '__main__':
    main()
