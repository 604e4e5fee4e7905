/* The terminal's output path, so that a terminal which stops reading (a stalled SSH link, a tmux
 * client that went away, Ctrl-S on a terminal that still has flow control) never blocks the loop.
 *
 * After tmux's tty.c: ncurses does not write to the terminal. It writes each frame into a pipe of
 * ours (large enough for the biggest frame, so that write never blocks); after every curses
 * call that emits output the pipe is drained into a bounded buffer and the buffer is written to
 * our own non-blocking open of the terminal, as much as the terminal takes. While bytes are
 * pending the UI draws no new frame (ui_frame skips it and counts it dropped); once the terminal
 * reads again the rest of the frame goes out and the next one shows the current state.
 *
 * ncurses therefore cannot set the terminal's modes itself (its fd is the pipe): this file puts
 * the terminal in the mode ncurses' cbreak()/noecho()/nonl() would, with flow control (IXON,
 * IXOFF) off so that Ctrl-S and Ctrl-Q reach Kestrel as keys, and restores the saved modes at
 * close. */
#include "ui_int.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define TTY_PIPE_WANT (1 << 20) /* the pipe ncurses writes a frame into */
#define TTY_PIPE_MIN (256 << 10) /* below this a large frame could fill it: not used */
#define TTY_BUF_MAX (4 << 20)    /* pending output held at most (then dropped, and repainted) */
#define TTY_CLOSE_WAIT_MS 500    /* how long the last bytes (endwin) may take at close */

struct ui_tty {
    int out_fd;         /* our own non-blocking open of the terminal */
    int in_fd;          /* the terminal's input (its modes are set here) */
    int pipe_r, pipe_w; /* ncurses writes to pipe_w */
    FILE *pipe_file;    /* pipe_w as the FILE newterm() takes */
    struct termios saved;
    bool saved_ok;
    bool dead; /* the terminal is gone (EIO, hangup): output is discarded */
    char *buf;
    size_t len, off, cap;
    uint64_t lost_bytes;
    bool lost; /* bytes were thrown away: the next frame repaints everything */
};

/* The terminal modes of ncurses' cbreak(), noecho() and nonl() plus newterm's own (no ONLCR),
 * without flow control. */
static void ui_tty_modes(struct termios *t)
{
    t->c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY | ICRNL | INLCR | IGNCR);
    t->c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
    t->c_lflag |= ISIG;
    t->c_oflag &= ~(tcflag_t)ONLCR;
    t->c_cc[VMIN] = 1;
    t->c_cc[VTIME] = 0;
}

ui_tty *ui_tty_open(int in_fd, int out_fd, char *err, size_t errlen)
{
    int p[2];
    const char *name = ttyname(out_fd);
    int fd = name ? open(name, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC) : -1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the terminal for output: %s", strerror(errno));
        return NULL;
    }
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    (void)fcntl(p[1], F_SETPIPE_SZ, TTY_PIPE_WANT);
    int sz = fcntl(p[1], F_GETPIPE_SZ);
    if (sz < TTY_PIPE_MIN || fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
        snprintf(err, errlen, "the output pipe holds %d bytes (%d needed)", sz, TTY_PIPE_MIN);
        close(p[0]);
        close(p[1]);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(p[1], "w");
    if (!f) {
        snprintf(err, errlen, "fdopen: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        close(fd);
        return NULL;
    }
    ui_tty *t = xcalloc(1, sizeof *t);
    t->out_fd = fd;
    t->in_fd = in_fd;
    t->pipe_r = p[0];
    t->pipe_w = p[1];
    t->pipe_file = f;
    t->cap = 64 << 10;
    t->buf = xmalloc(t->cap);
    if (tcgetattr(in_fd, &t->saved) == 0) {
        t->saved_ok = true;
        struct termios m = t->saved;
        ui_tty_modes(&m);
        (void)tcsetattr(in_fd, TCSANOW, &m);
    }
    return t;
}

FILE *ui_tty_file(ui_tty *t)
{
    return t->pipe_file;
}

bool ui_tty_size(const ui_tty *t, int *rows, int *cols)
{
    struct winsize ws;
    if (ioctl(t->out_fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
        return false;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return true;
}

/* Pipe -> buffer. */
static void ui_tty_drain_pipe(ui_tty *t)
{
    for (;;) {
        if (t->off > 0 && t->off == t->len)
            t->off = t->len = 0;
        if (t->len == t->cap) {
            if (t->off > 0) {
                memmove(t->buf, t->buf + t->off, t->len - t->off);
                t->len -= t->off;
                t->off = 0;
            } else if (t->cap < TTY_BUF_MAX) {
                t->cap *= 2;
                t->buf = xrealloc(t->buf, t->cap);
            } else { /* the terminal has not read for megabytes: forget them, repaint later */
                t->lost_bytes += t->len;
                t->len = t->off = 0;
                t->lost = true;
            }
        }
        ssize_t n = read(t->pipe_r, t->buf + t->len, t->cap - t->len);
        if (n > 0) {
            t->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return; /* EAGAIN: empty */
    }
}

size_t ui_tty_pump(ui_tty *t)
{
    ui_tty_drain_pipe(t);
    while (t->off < t->len) {
        if (t->dead) {
            t->lost_bytes += t->len - t->off;
            t->off = t->len = 0;
            break;
        }
        ssize_t n = write(t->out_fd, t->buf + t->off, t->len - t->off);
        if (n > 0) {
            t->off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            t->dead = true; /* EIO after a hangup: nobody will read it */
        }
    }
    if (t->off == t->len)
        t->off = t->len = 0;
    return t->len - t->off;
}

bool ui_tty_take_lost(ui_tty *t)
{
    bool l = t->lost;
    t->lost = false;
    return l;
}

void ui_tty_close(ui_tty *t)
{
    if (!t)
        return;
    /* what endwin() wrote (leave the alternate screen, show the cursor) gets a bounded chance */
    fflush(t->pipe_file);
    int64_t waited = 0;
    while (ui_tty_pump(t) > 0 && waited < TTY_CLOSE_WAIT_MS) {
        struct pollfd pf = {.fd = t->out_fd, .events = POLLOUT};
        if (poll(&pf, 1, 50) < 0 && errno != EINTR)
            break;
        waited += 50;
    }
    if (t->saved_ok)
        (void)tcsetattr(t->in_fd, TCSANOW, &t->saved);
    fclose(t->pipe_file);
    close(t->pipe_r);
    close(t->out_fd);
    free(t->buf);
    free(t);
}
