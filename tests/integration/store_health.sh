#!/bin/sh
# No silent data loss and owned files, through the binary: a read-only database, an unwritable
# directory and a full disk at start are refused with a clear message (exit 1, file untouched,
# no -wal/-shm left); a full disk during a run (a file size limit, and a real full tmpfs when
# this runs as root) gives an ERROR log line, "state" and "rows_held"/"rows_lost" in the status
# and exit 4 with --exit-at-end; a planted DB.lock symlink is refused and its target untouched.
. "$(dirname "$0")/../lib.sh"
K="$KESTREL_BIN"
R=data/replay/btcusdt_20240808.gz,data/replay/ethusdt_20240808.gz
RUN_DIR=.
run() { # db log out err [prefix...]: a headless replay to the end; the exit status in $rc
    db=$1; lg=$2; out=$3; er=$4; shift 4
    # the socket beside the log (the control socket opens before the store: a socket in the
    # database's directory would fail first where that directory is unwritable)
    (cd "$RUN_DIR" && exec "$@" "$K" --headless --exit-at-end --speed 0 --db "$db" \
        --socket "$lg.sock" --log "$lg" --replay "$R") > "$out" 2> "$er"
    rc=$?
}
no_sidecars() { test ! -e "$1-wal" && test ! -e "$1-shm"; }

# a first run makes a real database
mkdir -p "$T/a"
run "$T/a/k.db" "$T/a.log" "$T/a.json" "$T/a.err"
check "a normal run exits 0" eq "$rc" 0
check "normal run: store state ok" eq "$(jget "$T/a.json" 'j["store"]["state"]')" ok
check "normal run: no rows lost" eq "$(jget "$T/a.json" 'j["store"]["rows_lost"]')" 0
check "normal run: rows written" test "$(jget "$T/a.json" 'j["store"]["rows_written"]')" -gt 100

# read-only database (as nobody when root: root writes through file modes)
AS=""
mkdir -p "$T/nh" # the other user's home and log directory
if [ "$(id -u)" = 0 ]; then
    chown 65534:65534 "$T/nh"
    AS="setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=$T/nh XDG_CONFIG_HOME=$T/nh"
    # nobody may not reach the checkout (a clone in a 0700 mktemp directory): the binary and
    # the replay files are copied where it can, and the runs start there
    mkdir -p "$T/pub"
    cp "$K" "$T/pub/kestrel"
    cp data/replay/btcusdt_20240808.gz data/replay/ethusdt_20240808.gz "$T/pub/"
    chmod 0755 "$T/pub" "$T/pub/kestrel"
    chmod 0644 "$T/pub/"*.gz
    K="$T/pub/kestrel"
    R="$T/pub/btcusdt_20240808.gz,$T/pub/ethusdt_20240808.gz"
    RUN_DIR="$T/pub"
fi
mkdir -p "$T/ro"
cp "$T/a/k.db" "$T/ro/k.db"
[ -n "$AS" ] && chown -R 65534:65534 "$T/ro"
chmod 0444 "$T/ro/k.db"
chmod 0711 "$T"
sum0=$(md5sum < "$T/ro/k.db")
run "$T/ro/k.db" "$T/nh/ro.log" "$T/ro.json" "$T/ro.err" $AS
check "read-only database: refused (exit 1)" eq "$rc" 1
check "read-only database: clear message" grep -q "the database is read-only" "$T/ro.err"
check "read-only database: file untouched" eq "$(md5sum < "$T/ro/k.db")" "$sum0"
check "read-only database: no -wal/-shm left" no_sidecars "$T/ro/k.db"

# unwritable directory (an existing, writable database inside it)
chmod 0644 "$T/ro/k.db"
chmod 0555 "$T/ro"
run "$T/ro/k.db" "$T/nh/rd.log" "$T/rd.json" "$T/rd.err" $AS
check "unwritable directory: refused (exit 1)" eq "$rc" 1
check "unwritable directory: says so" grep -q "is not writable" "$T/rd.err"
check "unwritable directory: file untouched" eq "$(md5sum < "$T/ro/k.db")" "$sum0"
chmod 0755 "$T/ro"

# no room at start: a file size limit that the schema does not fit in
run "$T/nospace.db" "$T/ns.log" "$T/ns.json" "$T/ns.err" prlimit --fsize=20000
check "no room at start: refused (exit 1)" eq "$rc" 1
check "no room at start: clear message" grep -q "disk is full or a file size limit" "$T/ns.err"

# a full disk during the run: rows are held, the loss is counted, ERROR logged, exit 4 (the
# limit leaves room for the schema, ten migrations now, and some candles before it fills)
run "$T/full.db" "$T/full.log" "$T/full.json" "$T/full.err" prlimit --fsize=250000
check "full disk during the run: exit 4 with --exit-at-end" eq "$rc" 4
check "full disk: ERROR in the log at once" \
    grep -q "ERROR store: database writes are failing" "$T/full.log"
check "full disk: the loss is counted in the log" \
    grep -Eq "ERROR store: [0-9]+ rows were lost" "$T/full.log"
check "full disk: status says failing" eq "$(jget "$T/full.json" 'j["store"]["state"]')" failing
check "full disk: status counts the held rows" \
    test "$(jget "$T/full.json" 'j["store"]["rows_held"]')" -gt 0
check "full disk: status has the error" \
    eq "$(jget "$T/full.json" '"disk I/O error" in j["store"]["last_error"]')" True
check "full disk: some rows made it" \
    test "$(sqlite3 "$T/full.db" 'select count(*) from candles')" -gt 0

# a real full disk, when we may mount a small tmpfs (root)
if [ "$(id -u)" = 0 ] && mkdir -p "$T/mnt" &&
    mount -t tmpfs -o size=2m tmpfs "$T/mnt" 2>/dev/null; then
    trap 'umount "$T/mnt" 2>/dev/null; cleanup' EXIT INT TERM
    dd if=/dev/zero of="$T/mnt/fill" bs=1k count=1900 2>/dev/null
    run "$T/mnt/k.db" "$T/tf.log" "$T/tf.json" "$T/tf.err"
    check "full tmpfs at start: refused (exit 1)" eq "$rc" 1
    check "full tmpfs at start: says the disk is full" grep -q "the disk is full" "$T/tf.err"
    rm -f "$T/mnt/fill" "$T/mnt/k.db" "$T/mnt/k.db.lock"
    dd if=/dev/zero of="$T/mnt/fill" bs=1k count=1740 2>/dev/null # ~300 KiB free: opens
    R=$R,$PWD/data/replay/btcusdt_20240809.gz,$PWD/data/replay/ethusdt_20240809.gz
    run "$T/mnt/k.db" "$T/tr.log" "$T/tr.json" "$T/tr.err"
    check "full tmpfs during the run: exit 4" eq "$rc" 4
    check "full tmpfs during the run: ERROR logged" \
        grep -q "ERROR store: database writes are failing" "$T/tr.log"
    check "full tmpfs during the run: the error says the disk is full" \
        grep -q "database or disk is full" "$T/tr.log"
    umount "$T/mnt"
fi

# a planted lock symlink is refused and its target untouched
echo precious > "$T/victim"
mkdir -p "$T/s"
ln -s "$T/victim" "$T/s/k.db.lock"
run "$T/s/k.db" "$T/s.log" "$T/s.json" "$T/s.err"
check "symlink lock: refused (exit 1)" eq "$rc" 1
check "symlink lock: says why" grep -q "is a symbolic link; refused" "$T/s.err"
check "symlink lock: target untouched" eq "$(cat "$T/victim")" precious
check "symlink lock: no database created" test ! -e "$T/s/k.db"
done_tests
