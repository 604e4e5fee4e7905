#!/bin/sh
# The UI never blocks the loop: the real program on the bundled replay under a pseudo-terminal
# (a python3 harness holds the master side). Ctrl-S and Ctrl-Q are sent as keys and the screen
# keeps changing (no flow control); then the harness stops reading the master, so the terminal
# fills up as a stalled SSH link or a tmux client that went away would. The control socket must
# still answer `status` within 100 ms every time and the replay must keep advancing; when the
# harness reads again the screen comes back and q y quits with status 0.
# Prints "N passed, N failed". Needs python3; $KESTREL_BIN.
set -u
cd "$(dirname "$0")/../.." || exit 2
BIN=${KESTREL_BIN:-build/release/kestrel}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
command -v python3 >/dev/null 2>&1 || { echo "python3 missing"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$BIN" ] || { echo "no binary $BIN"; echo "0 passed, 1 failed"; exit 1; }
tmp=$(mktemp -d /tmp/kestrel-pty.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
case $BIN in *asan*) slow=3 ;; *) slow=1 ;; esac

python3 - "$BIN" "$tmp" "$slow" <<'EOF'
import errno, fcntl, json, os, pty, select, signal, socket, struct, sys, termios, time

BIN, TMP, SLOW = sys.argv[1], sys.argv[2], int(sys.argv[3])
ROWS, COLS = 70, 250  # a big screen: a frame is tens of kilobytes, the pty holds a few frames
passed = failed = 0

def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what)
    sys.stdout.flush()

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    os.environ.update({"TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": ""})
    os.execv(BIN, [BIN, "--db", TMP + "/k.db", "--socket", TMP + "/s", "--speed", "1"])
    os._exit(127)

screen = bytearray()

def read_for(seconds):
    """Reads whatever the master has for up to `seconds`; returns the bytes read."""
    got = bytearray()
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            b = os.read(fd, 65536)
        except OSError:
            break
        if not b:
            break
        got += b
    screen.extend(got)
    return bytes(got)

def read_until(pattern, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        read_for(0.1)
        if pattern in screen:
            return True
    return False

def status(timeout):
    """One status request over the control socket: (document or None, seconds taken)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(TMP + "/s")
        s.sendall(b'{"cmd":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            b = s.recv(1 << 20)
            if not b:
                break
            buf += b
        return json.loads(buf), time.monotonic() - t0
    except (OSError, ValueError):
        return None, time.monotonic() - t0
    finally:
        s.close()

def messages(doc):
    return doc["messages"] if doc else -1

ok(read_until(b"REPLAY", 10 * SLOW), "the UI draws on the pty")
ok(read_until(b"Watchlist", 10 * SLOW), "the panes are drawn")
doc = None
end = time.monotonic() + 10 * SLOW
while doc is None and time.monotonic() < end:
    read_for(0.1)
    doc, _ = status(1.0)
ok(doc is not None, "the control socket answers")

# Ctrl-S then Ctrl-Q: keys, not flow control. While "stopped" the screen still changes.
os.write(fd, b"\x13")
m0 = messages(status(1.0)[0])
screen.clear()
n = 0
end = time.monotonic() + 5 * SLOW
while time.monotonic() < end and n < 2048:
    n += len(read_for(0.1))
m1 = messages(status(1.0)[0])
ok(n >= 2048, "after Ctrl-S the screen keeps changing (%d bytes)" % n)
ok(m1 > m0 >= 0, "after Ctrl-S the replay advances (%d -> %d messages)" % (m0, m1))
os.write(fd, b"\x11")
read_for(0.3)

# Stop reading. Poll until the pty is full: the master's unread byte count stops growing for
# a second while the replay still runs (bounded: 30 s).
def unread():
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]

last, still, full = -1, 0, False
end = time.monotonic() + 30 * SLOW
while time.monotonic() < end:
    select.select([], [], [], 0.1)
    q = unread()
    still = still + 1 if q == last else 0
    last = q
    if still >= 10 and q > 0:
        full = True
        break
ok(full, "the unread pty fills up and stops growing (%d bytes unread)" % last)

# Now the terminal takes nothing: every status answers within 100 ms, the replay advances.
worst, answered, first, latest = 0.0, 0, None, None
for i in range(30):
    d, took = status(0.5)
    if d is not None:
        answered += 1
        first = first if first is not None else messages(d)
        latest = messages(d)
    worst = max(worst, took)
    select.select([], [], [], 0.05)
ok(answered == 30, "with the terminal not read, status answers every time (%d/30)" % answered)
ok(worst < 0.100, "... each within 100 ms (worst %.1f ms)" % (worst * 1000))
ok(latest is not None and first is not None and latest > first,
   "... and the replay keeps advancing (%s -> %s messages)" % (first, latest))

# Read again: the rest of the frame and new frames arrive; q y quits with status 0.
screen.clear()
got = read_for(1.0 * SLOW)
ok(len(got) > 0, "reading again, output resumes (%d bytes)" % len(got))
os.write(fd, b"q")
ok(read_until(b"Quit Kestrel?", 5 * SLOW), "q asks to quit after the stall")
os.write(fd, b"y")
rc = None
end = time.monotonic() + 10 * SLOW
while time.monotonic() < end:
    read_for(0.1)
    p, st = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        rc = os.WEXITSTATUS(st) if os.WIFEXITED(st) else -1
        break
ok(rc == 0, "y quits with status 0 (got %s)" % rc)
ok(b"\x1b[?1049l" in screen, "the terminal is given back (the alternate screen is left)")
if rc is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
