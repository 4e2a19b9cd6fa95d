/**
 * The per-container console shim (like containerd-shim or conmon, in ~80 lines of Python, because
 * Node cannot receive a file descriptor over a Unix socket).
 *
 * Why it exists (measured): systemd as PID 1 in a container replaces a non-tty stdout with
 * /dev/null and logs to /dev/console, so the serial log must be a real console: runc has to run
 * with `terminal: true`. runc only hands the console's pty master out through `--console-socket`,
 * which needs `runc run -d` (detached), whose init is then orphaned, and PID 1 on these machines
 * does not reap orphans. The shim therefore:
 *
 * 1. makes itself a child subreaper, so the orphaned container init becomes *its* child;
 * 2. runs `runc run -d --console-socket SOCK`, receives the pty master (SCM_RIGHTS), sets 80x24;
 * 3. appends everything the console prints to the serial log (CR+LF -> LF) until init exits, reaping
 *    every orphan; then exits with init's status.
 *
 * It runs in its own session, so it (and the serial log) survive a Nimbus restart. runc's own errors
 * go to the serial log too; the runtime reports them when the start fails.
 */
export const CONSOLE_SHIM_PY = String.raw`
import array, ctypes, fcntl, os, select, signal, socket, struct, sys, termios

runc, root, bundle, cid, log_path = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
# relative names (cwd = bundle): a Unix socket path must stay under 108 bytes
os.chdir(bundle)
sock_path = "console.sock"
pid_file = "init.pid"
for p in (sock_path, pid_file):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sock_path)
server.listen(1)
devnull = os.open(os.devnull, os.O_RDWR)
starter = os.posix_spawnp(
    runc,
    [runc, "--root", root, "run", "--detach", "--console-socket", sock_path,
     "--pid-file", pid_file, "--bundle", ".", cid],
    os.environ,
    file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, log, 1),
                  (os.POSIX_SPAWN_DUP2, log, 2)])

def starter_exit(block):
    pid, status = os.waitpid(starter, 0 if block else os.WNOHANG)
    return None if pid == 0 else os.waitstatus_to_exitcode(status)

master = None
while master is None:
    ready, _, _ = select.select([server], [], [], 0.05)
    if ready:
        conn, _ = server.accept()
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        conn.close()
        if len(fds) > 0:
            master = fds[0]
    else:
        code = starter_exit(False)
        if code is not None:
            sys.exit(code or 1)
server.close()
os.unlink(sock_path)
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
code = starter_exit(True)
if code != 0:
    sys.exit(code)
with open(pid_file) as f:
    init_pid = int(f.read().strip())

init_status = None
def reap():
    global init_status
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == init_pid:
            init_status = os.waitstatus_to_exitcode(status)

# Hold the console's slave side open (TIOCGPTPEER): otherwise the master reads EIO whenever no
# process in the container has the console open (systemd opens it per message).
try:
    peer = fcntl.ioctl(master, 0x5441, os.O_RDWR | os.O_NOCTTY)
except OSError:
    peer = None

# SIGCHLD wakes the select loop through a self-pipe
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.signal(signal.SIGCHLD, lambda *_: None)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
carry = b""
while True:
    reap()
    if init_status is not None:
        timeout = 0
    elif peer is None:
        timeout = 0.1
    else:
        timeout = None
    ready, _, _ = select.select([master, wake_r], [], [], timeout)
    if wake_r in ready:
        try:
            os.read(wake_r, 512)
        except BlockingIOError:
            pass
    data = b""
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:
            # EIO: nobody holds the console (only without a peer): poll again shortly
            select.select([wake_r], [], [], 0.1)
    if data:
        data = carry + data
        stripped = data.rstrip(b"\r")
        carry, data = data[len(stripped):], stripped
        while b"\r\n" in data:
            data = data.replace(b"\r\n", b"\n")
        os.write(log, data)
    elif init_status is not None:
        break
if carry:
    os.write(log, carry)
sys.exit(0 if init_status is None or init_status < 0 else init_status)
`;
