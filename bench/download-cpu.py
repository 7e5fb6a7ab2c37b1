#!/usr/bin/env python3
"""CPU per batch of 1,000 small downloads, per process and per thread (not a test; prints figures).

Usage: bench/download-cpu.py [BATCHES=6] [JARS_DIR] [-- EXTRA TETHERD JVM FLAGS...]

Starts one nginx on a loopback port serving 1,000 files of 64 KiB and one tetherd (the command line DaemonStarter
uses), then runs BATCHES times `tether download --list LIST --connections 16` over the same 1,000 URLs, back to back in
the same daemon. For each batch it prints the CLI's CPU (utime + stime of the whole process, from wait4), tetherd's
CPU (/proc/PID/stat) and the biggest threads of tetherd (/proc/PID/task/TID/stat, named through `jcmd PID
Thread.print`; ".sys" is the kernel part), then the mean of the batches after the first two. CPU time, unlike wall
time, is comparable between runs on a machine shared with other work.

JARS_DIR (for A/B pairs): a folder holding a build's tether-*.jar files and its tether-cli/target/classpath.txt;
by default this checkout's build (run ./tether once first).
"""
import collections, os, re, shutil, socket, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = sys.argv[1:]
extra = []
if '--' in args:
    extra = args[args.index('--') + 1:]
    args = args[:args.index('--')]
batches = int(args[0]) if args else 6
jars_dir = args[1] if len(args) > 1 else None

if jars_dir:
    deps = open(os.path.join(jars_dir, 'classpath.txt')).read().strip().split(':')
    deps = [os.path.join(jars_dir, os.path.basename(j)) if os.path.exists(os.path.join(jars_dir, os.path.basename(j)))
            else j for j in deps]
    first = os.path.join(jars_dir, 'tether-cli-0.1.0-SNAPSHOT.jar')
else:
    deps = open(os.path.join(root, 'tether-cli/target/classpath.txt')).read().strip().split(':')
    first = [os.path.join(root, 'tether-cli/target', f) for f in os.listdir(os.path.join(root, 'tether-cli/target'))
             if f.startswith('tether-cli-') and f.endswith('.jar') and 'sources' not in f][0]
cp = ':'.join([first] + [j for j in deps if 'picocli' in j] + [j for j in deps if 'picocli' not in j])

work = tempfile.mkdtemp(prefix='tether-dlcpu.')
os.chmod(work, 0o755)
www, out, home = os.path.join(work, 'www'), os.path.join(work, 'out'), os.path.join(work, 'home')
for d in (www, out, os.path.join(work, 'logs')):
    os.makedirs(d)
data = os.urandom(65536 * 1000)
for i in range(1000):
    with open(os.path.join(www, f'f{i:04d}'), 'wb') as f:
        f.write(data[i * 65536:(i + 1) * 65536])
os.system(f'chmod -R a+rX {www}')
s = socket.socket()
s.bind(('127.0.0.1', 0))
port = s.getsockname()[1]
s.close()
with open(os.path.join(work, 'nginx.conf'), 'w') as f:
    f.write(f"""worker_processes 2; pid {work}/nginx.pid; error_log {work}/logs/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path {work}/logs/body; proxy_temp_path {work}/logs/proxy; fastcgi_temp_path {work}/logs/fastcgi;
  uwsgi_temp_path {work}/logs/uwsgi; scgi_temp_path {work}/logs/scgi;
  server {{ listen 127.0.0.1:{port}; root {www}; }} }}
""")
nginx = shutil.which('nginx') or '/usr/sbin/nginx'
subprocess.check_call([nginx, '-c', os.path.join(work, 'nginx.conf'), '-p', work])
base = f'http://127.0.0.1:{port}'
cli_opts = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:CICompilerCount=1', '-XX:CompileThresholdScaling=3']  # ./tether's
jsa = os.path.join(work, 'cli.jsa')
subprocess.call(['java'] + cli_opts + ['-Xshare:auto', '-Xlog:disable', '-XX:ArchiveClassesAtExit=' + jsa, '-cp', cp,
                 'dev.tether.cli.StartupTraining'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.path.exists(jsa):
    cli_opts += ['-XX:SharedArchiveFile=' + jsa, '-Xshare:auto', '-Xlog:disable', '-Xlog:all=warning:stderr']

# the daemon command line DaemonStarter builds (its JVM flags), with this class path
starter = subprocess.run(['java', '-cp', cp, 'dev.tether.cli.Main', '--home', home, 'daemon', 'start'],
                         capture_output=True, text=True)
if starter.returncode != 0:
    sys.exit('tetherd did not start: ' + starter.stderr)
pid = int(open(os.path.join(home, 'tetherd.pid')).read().strip())
if extra:  # restart it with the extra flags added after DaemonStarter's own
    cmdline = open(f'/proc/{pid}/cmdline').read().split('\0')[:-1]
    subprocess.call(['java', '-cp', cp, 'dev.tether.cli.Main', '--home', home, 'daemon', 'stop'], stdout=subprocess.DEVNULL)
    at = cmdline.index('-cp')
    subprocess.Popen(cmdline[:at] + extra + cmdline[at:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
    for _ in range(100):
        time.sleep(0.2)
        if os.path.exists(os.path.join(home, 'tetherd.pid')) and int(open(os.path.join(home, 'tetherd.pid')).read() or 0) != pid:
            break
    pid = int(open(os.path.join(home, 'tetherd.pid')).read().strip())
    time.sleep(1)


def cli(*a):
    p = subprocess.Popen(['java'] + cli_opts + ['-cp', cp, 'dev.tether.cli.Main', '--home', home] + list(a),
                         stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        sys.exit(f'tether {" ".join(a)} failed')
    return usage.ru_utime + usage.ru_stime


tick = os.sysconf('SC_CLK_TCK')
names = {}


def name_threads():
    dump = subprocess.run(['jcmd', str(pid), 'Thread.print'], capture_output=True, text=True).stdout
    for m in re.finditer(r'^"([^"]+)".*?nid=0x([0-9a-f]+)', dump, re.M):
        names[str(int(m.group(2), 16))] = m.group(1)


def threads():
    cpu = collections.Counter()
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            stat = open(f'/proc/{pid}/task/{t}/stat').read()
        except OSError:
            continue
        f = stat[stat.rindex(')') + 2:].split()
        n = names.get(t) or re.sub(r'\d+', '#', stat[stat.index('(') + 1:stat.rindex(')')])
        cpu[n] += (int(f[11]) + int(f[12])) / tick
        cpu[n + '.sys'] += int(f[12]) / tick
    return cpu


def total():
    f = open(f'/proc/{pid}/stat').read()
    f = f[f.rindex(')') + 2:].split()
    return (int(f[11]) + int(f[12])) / tick


try:
    cli('download', f'{base}/f0000', '-o', os.path.join(out, 'warm'))
    lst = os.path.join(work, 'list.txt')
    with open(lst, 'w') as f:
        for i in range(1000):
            f.write(f'{base}/f{i:04d} {out}/t-f{i:04d}\n')
    print(f'load {open("/proc/loadavg").read().split()[:3]}; tetherd {" ".join(extra) or "(DaemonStarter flags)"}')
    rows = []
    for b in range(batches):
        for x in os.listdir(out):
            if x.startswith('t-'):
                os.unlink(os.path.join(out, x))
        os.sync()
        if b <= 2 or b % 4 == 0:
            name_threads()
        c0, t0, w0 = total(), threads(), time.time()
        cli_cpu = cli('download', '--list', lst, '--connections', '16', '--session', f'batch{b}')
        wall = time.time() - w0
        time.sleep(0.3)
        c1, t1 = total(), threads()
        got = len([x for x in os.listdir(out) if x.startswith('t-')])
        if got != 1000:
            sys.exit(f'batch {b}: {got} files instead of 1000')
        diff = collections.Counter({k: t1[k] - t0.get(k, 0) for k in t1})
        top = '  '.join(f'{k} {v:.2f}' for k, v in diff.most_common(8) if v > 0)
        print(f'batch {b}: wall {wall:.2f} s, CLI {cli_cpu:.2f} s, tetherd {c1 - c0:.2f} s CPU | {top}', flush=True)
        rows.append((wall, cli_cpu, c1 - c0))
    late = rows[2:]
    if late:
        print('mean of batches 2..: wall {:.2f} s, CLI {:.2f} s, tetherd {:.2f} s CPU; load {}'.format(
            *(sum(r[i] for r in late) / len(late) for i in range(3)), open('/proc/loadavg').read().split()[:3]))
finally:
    subprocess.call(['java', '-cp', cp, 'dev.tether.cli.Main', '--home', home, 'daemon', 'stop'],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.path.exists(os.path.join(work, 'nginx.pid')):
        subprocess.call(['kill', open(os.path.join(work, 'nginx.pid')).read().strip()])
    shutil.rmtree(work, ignore_errors=True)
