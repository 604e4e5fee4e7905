/* The list widget (after htop's Panel): a count of items, a selection and the first row shown,
 * with the keys, clicks and wheel every list pane shares. The pane draws rows top..top+rows-1;
 * the widget only keeps the numbers consistent. A scroll-only list (the trade tape) has no
 * selection: its keys move the view. */
#include "ui_int.h"

static uint32_t ui_list_clampu(int64_t v, uint32_t n)
{
    if (n == 0 || v < 0)
        return 0;
    return v >= (int64_t)n ? n - 1 : (uint32_t)v;
}

void ui_list_fit(ui_list *l, uint32_t n, int rows)
{
    l->n = n;
    l->rows = rows > 0 ? rows : 1;
    if (l->scroll_only) {
        l->top = ui_list_clampu(l->top, n);
        l->sel = l->top;
        return;
    }
    l->sel = ui_list_clampu(l->sel, n);
    if (l->sel < l->top)
        l->top = l->sel;
    if (l->sel >= l->top + (uint32_t)l->rows)
        l->top = l->sel - (uint32_t)l->rows + 1;
    if (l->top >= n)
        l->top = 0;
}

static void ui_list_move(ui_list *l, int64_t delta)
{
    if (l->scroll_only) {
        l->top = ui_list_clampu((int64_t)l->top + delta, l->n);
        l->sel = l->top;
        return;
    }
    l->sel = ui_list_clampu((int64_t)l->sel + delta, l->n);
}

bool ui_list_key(ui_list *l, int key)
{
    int page = l->rows > 1 ? l->rows - 1 : 10;
    switch (key) {
    case KEY_UP: case 'k': ui_list_move(l, -1); return true;
    case KEY_DOWN: case 'j': ui_list_move(l, +1); return true;
    case KEY_PPAGE: ui_list_move(l, -page); return true;
    case KEY_NPAGE: ui_list_move(l, +page); return true;
    case KEY_HOME: ui_list_move(l, -(int64_t)l->n); return true;
    case KEY_END: ui_list_move(l, (int64_t)l->n); return true;
    default: return false;
    }
}

void ui_list_scroll(ui_list *l, int delta)
{
    ui_list_move(l, delta);
}

bool ui_list_click(ui_list *l, int row)
{
    if (row < 0 || row >= l->rows)
        return false;
    uint32_t i = l->top + (uint32_t)row;
    if (i >= l->n)
        return false;
    if (!l->scroll_only)
        l->sel = i;
    return true;
}
