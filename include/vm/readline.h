/*
 * The line editor of the HMP monitor (and of the guest console): a pure
 * state machine from input bytes to output bytes and completed lines, so
 * it works the same whether a client types one byte at a time, sends a
 * whole command (or several) in one write, or splits an escape sequence
 * across reads.
 *
 *     VMReadline *rl = vm_readline_new("(qemu) ", write_cb, line_cb, mon);
 *     vm_readline_show_prompt(rl);             // "(qemu) "
 *     vm_readline_feed(rl, buf, len);           // echo, editing; line_cb
 *                                               // for each line entered
 *
 * Output is what a terminal expects and what QEMU's monitor sends: after
 * each input byte the edited line is redrawn from where the cursor was
 * (ESC [ D to go back, the line, ESC [ K to clear the rest, then cursor
 * moves), and Enter sends CR LF before the line callback runs.  The line
 * callback prints the command's output (with CR LF line ends) and then
 * calls vm_readline_show_prompt() for the next prompt.
 *
 * Keys: printable bytes insert; Backspace (0x7f or 0x08) and Ctrl-D
 * (delete under the cursor); Left/Right (ESC [ D/C); Home/End (Ctrl-A,
 * Ctrl-E, ESC [ H/F, ESC [ 1~/4~, ESC O H/F); Delete (ESC [ 3~); Up/Down
 * (ESC [ A/B) walk the history; Ctrl-U and Ctrl-K delete to the start and
 * the end of the line, Ctrl-W the word before the cursor; Ctrl-L clears
 * the screen; Tab asks the completion callback.  CR or LF ends a line; an
 * LF right after a CR belongs to the same line end (QEMU 7.2 runs an
 * extra empty command for it).  Other control bytes and unknown escape
 * sequences are ignored.
 *
 * Bounds: a line holds at most VM_READLINE_LINE_MAX bytes (more input is
 * dropped), the history VM_READLINE_HISTORY_MAX lines; an escape sequence
 * with more than 8 parameter bytes is abandoned.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/wire.h"

G_BEGIN_DECLS

#define VM_READLINE_LINE_MAX    4095
#define VM_READLINE_HISTORY_MAX 64

typedef struct VMReadline VMReadline;

/* Send @len bytes of @buf to the terminal. */
typedef void (*VMReadlineOutput)(void *opaque, const char *buf, size_t len);

/* A line was entered (without its line end). */
typedef void (*VMReadlineLine)(void *opaque, const char *line);

/*
 * Tab: add the possible completions of @line (the text before the
 * cursor) to @matches as whole replacements of its last word.  One match
 * is completed in place; several are listed.  Optional.
 */
typedef void (*VMReadlineComplete)(void *opaque, const char *line,
                                   GPtrArray *matches);

VMReadline *vm_readline_new(const char *prompt, VMReadlineOutput output,
                            VMReadlineLine line, void *opaque);
void vm_readline_free(VMReadline *rl);

void vm_readline_set_completion(VMReadline *rl, VMReadlineComplete complete);

/* Print the prompt and the line being edited (empty after Enter). */
void vm_readline_show_prompt(VMReadline *rl);

/* Process input. */
void vm_readline_feed(VMReadline *rl, const uint8_t *buf, size_t len);

/* The line being edited (borrowed) and the cursor's offset in it. */
const char *vm_readline_get_line(VMReadline *rl);
size_t vm_readline_get_cursor(VMReadline *rl);

/* History, oldest first; index beyond the end gives NULL. */
const char *vm_readline_get_history(VMReadline *rl, unsigned index);

/*
 * Save the editor's state (line, cursor, history, a pending escape
 * sequence) into @out, and restore it from the cursor @w, for device
 * state that moves with a machine.  vm_readline_restore() checks every
 * length and offset against the bounds above and fails (returns false,
 * the editor unchanged) on bytes that do not parse.
 */
void vm_readline_save(VMReadline *rl, GByteArray *out);
bool vm_readline_restore(VMReadline *rl, QUtilWire *w);

G_END_DECLS
