/* The key binding table (include/kestrel/keys.h): key -> command line, in the order of the key
 * table in docs/ARCHITECTURE.md. The trading keys (o c C X e a d S P g n B, 1..5, . { }) are
 * bound to their commands (those of later issues to reserved ones, so no key collides and the
 * help lists them as "not yet"); an overlay never takes them for its own actions. */
#include "kestrel/keys.h"

#include "kestrel/cmd.h"

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <stdio.h>
#include <string.h>

#define KEY_CTRL_L 12
#define KEY_ESC 27

#define SCREENS "screens: 1 Market 2 Trading 3 AI 4 System 5 Backtests"

static const key_binding keys_table[] = {
    {'?', "?", "help", "this help (Esc closes it)"},
    {KEY_F(1), "F1", "help", "this help (Esc closes it)"},
    {'q', "q", "quit ask", "quit (asks: y quits, n or Esc stays)"},
    {KEY_F(10), "F10", "quit ask", "quit (asks: y quits, n or Esc stays)"},
    {'1', "1-5", "screen 1", SCREENS},
    {'2', "1-5", "screen 2", SCREENS},
    {'3', "1-5", "screen 3", SCREENS},
    {'4', "1-5", "screen 4", SCREENS},
    {'5', "1-5", "screen 5", SCREENS},
    {KEY_F(2), "F2-F6", "screen 1", SCREENS},
    {KEY_F(3), "F2-F6", "screen 2", SCREENS},
    {KEY_F(4), "F2-F6", "screen 3", SCREENS},
    {KEY_F(5), "F2-F6", "screen 4", SCREENS},
    {KEY_F(6), "F2-F6", "screen 5", SCREENS},
    {'\t', "Tab", "pane-next", "focus the next / previous pane (a hidden one is shown)"},
    {KEY_BTAB, "Shift-Tab", "pane-prev", "focus the next / previous pane (a hidden one is shown)"},
    {KEY_UP, "Up", "move up", "move in lists (watchlist, trades)"},
    {KEY_DOWN, "Down", "move down", "move in lists (watchlist, trades)"},
    {'k', "k", "move up", "move in lists (watchlist, trades)"},
    {'j', "j", "move down", "move in lists (watchlist, trades)"},
    {KEY_PPAGE, "PgUp", "move page-up", "page in lists and the chart"},
    {KEY_NPAGE, "PgDn", "move page-down", "page in lists and the chart"},
    {'\n', "Enter", "select", "select the symbol under the cursor (watchlist)"},
    {'\r', "Enter", "select", "select the symbol under the cursor (watchlist)"},
    {KEY_ENTER, "Enter", "select", "select the symbol under the cursor (watchlist)"},
    {'[', "[", "timeframe prev", "chart timeframe shorter / longer: 1s 1m 5m 15m 1h 4h 1d"},
    {']', "]", "timeframe next", "chart timeframe shorter / longer: 1s 1m 5m 15m 1h 4h 1d"},
    {KEY_LEFT, "Left", "move left", "chart: scroll back / forward in time"},
    {KEY_RIGHT, "Right", "move right", "chart: scroll back / forward in time"},
    {'h', "h", "move left", "chart: scroll back / forward in time"},
    {'l', "l", "move right", "chart: scroll back / forward in time"},
    {KEY_HOME, "Home", "move home", "chart: oldest / newest bar; lists: top / bottom"},
    {KEY_END, "End", "move end", "chart: oldest / newest bar; lists: top / bottom"},
    {'z', "z", "zoom", "zoom the focused pane (again: restore); panes hidden: cycle them"},
    {'M', "M", "mouse toggle", "mouse on / off: click focuses and selects, the wheel scrolls"},
    {' ', "space", "pause toggle", "pause / resume the replay"},
    {'<', "<", "speed slower", "replay speed slower / faster"},
    {'>', ">", "speed faster", "replay speed slower / faster"},
    {'{', "{", "seek -60", "seek back / forward one minute (re-runs from the start)"},
    {'}', "}", "seek +60", "seek back / forward one minute (re-runs from the start)"},
    {'.', ".", "step", "step one bar of the chart's timeframe while paused"},
    {'i', "i", "picker", "indicator picker (chart overlays, oscillators)"},
    {KEY_ESC, "Esc", "close-overlay", "close an overlay"},
    {KEY_CTRL_L, "Ctrl-L", "repaint", "repaint the whole screen"},
    /* reserved for the trading, engine and screens issues */
    {'o', "o", "ticket", "order ticket (rounded values, fee, risk verdict, then confirm)"},
    {'c', "c", "close", "close the focused position at market / cancel the selected order"},
    {'C', "C", "cancel-order", "close the focused position at market / cancel the selected order"},
    {'X', "X", "close-all", "close all: halt new entries, flatten at market"},
#define KEYS_EAD "settings form (e: w writes it to the config file); add / remove a watchlist " \
                 "symbol (a d)"
    {'e', "e", "settings open", KEYS_EAD},
    {'a', "a", "watch-add", KEYS_EAD},
    {'d', "d", "watch-remove", KEYS_EAD},
    {'S', "S", "start", "start / pause auto-trading"},
    {'P', "P", "pause-trading", "start / pause auto-trading"},
#define KEYS_GR "a signal now for the focused symbol (g); record the live session / stop (R)"
    {'g', "g", "signal", KEYS_GR},
    {'n', "n", "connections", NULL},
    {'R', "R", "record toggle", KEYS_GR},
    {'B', "B", "backtests", NULL},
};

static const key_local keys_local_table[] = {
    {"+ -  Right Left", "picker: step the first parameter"},
    {"t", "picker: type the spec (Enter applies)"},
    {"space  x", "picker: toggle / clear all (asks)"},
};

size_t keys_count(void)
{
    return K_ARRAY_LEN(keys_table);
}

const key_binding *keys_at(size_t i)
{
    return i < K_ARRAY_LEN(keys_table) ? &keys_table[i] : NULL;
}

const key_binding *keys_lookup(int key)
{
    for (size_t i = 0; i < K_ARRAY_LEN(keys_table); i++)
        if (keys_table[i].key == key)
            return &keys_table[i];
    return NULL;
}

size_t keys_local_count(void)
{
    return K_ARRAY_LEN(keys_local_table);
}

const key_local *keys_local_at(size_t i)
{
    return i < K_ARRAY_LEN(keys_local_table) ? &keys_local_table[i] : NULL;
}

/* Does the command line start with the word name? */
static bool keys_is_command(const char *line, const char *name)
{
    size_t n = strlen(name);
    return strncmp(line, name, n) == 0 && (line[n] == 0 || line[n] == ' ');
}

/* Appends label to buf unless it is already there (Enter is bound three times). */
static void keys_add_label(char *buf, size_t cap, const char *label)
{
    size_t len = strlen(buf), ll = strlen(label);
    for (const char *p = buf; (p = strstr(p, label)) != NULL; p += ll)
        if ((p == buf || p[-1] == ' ') && (p[ll] == 0 || p[ll] == ' '))
            return;
    snprintf(buf + len, cap - len, "%s%s", len ? " " : "", label);
}

const char *keys_for_command(const char *name, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    buf[0] = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(keys_table); i++)
        if (keys_is_command(keys_table[i].command, name))
            keys_add_label(buf, cap, keys_table[i].label);
    return buf;
}

size_t keys_help_rows(key_help_row *rows, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(keys_table); i++) {
        const key_binding *b = &keys_table[i];
        char name[32];
        snprintf(name, sizeof name, "%s", b->command);
        char *sp = strchr(name, ' ');
        if (sp)
            *sp = 0;
        const cmd_entry *e = cmd_find(name);
        const char *what = b->what ? b->what : e ? e->help : b->command;
        bool reserved = e && (e->flags & CMD_F_RESERVED);
        size_t r = 0;
        while (r < n && r < cap && strcmp(rows[r].what, what) != 0)
            r++;
        if (r < n && r < cap) {
            keys_add_label(rows[r].keys, sizeof rows[r].keys, b->label);
            keys_add_label(rows[r].names, sizeof rows[r].names, name);
            continue;
        }
        if (r >= n && n < cap) {
            rows[n].keys[0] = 0;
            rows[n].names[0] = 0;
            keys_add_label(rows[n].keys, sizeof rows[n].keys, b->label);
            keys_add_label(rows[n].names, sizeof rows[n].names, name);
            rows[n].command = b->command;
            rows[n].what = what;
            rows[n].reserved = reserved;
        }
        n++;
    }
    return n;
}
