# caro shell integration for fish 3.4+ (printed by `caro init fish`). Load it from
# ~/.config/fish/config.fish:
#     caro init fish | source
# @CARO_KEY_NAME@ turns what is typed on the prompt line into caro's command, put on the line
# with the cursor at its end; nothing runs until you press Enter, so history holds what ran.
# Undo (Ctrl-Z or Ctrl-_) brings the request back. A blocked command never reaches the line:
# the reason is printed above the prompt and the request stays. See docs/shell.md.
# caro writes POSIX sh commands; the few that fish cannot parse are flagged when they arrive.
if status is-interactive
    function __caro_edit --description 'caro: replace the request on the prompt line with a command'
        # The request travels on stdin (never argv: `ps` would show it to other users), and
        # the answer is only ever handed to `commandline -r`: nothing here evaluates it.
        set -l request (commandline | string collect)
        string trim -- "$request" | string length -q; or return 0
        set -l dir /tmp
        test -n "$TMPDIR"; and set dir $TMPDIR
        set -l tmp (command mktemp $dir/caro.XXXXXX); or return 0
        set -l command (printf '%s' "$request" | command caro --dry-run --output plain --shell sh 2>$tmp | string collect)
        set -l code $pipestatus[2]
        set -l errors (string collect < $tmp)
        command rm -f -- $tmp
        if test -n "$errors"
            printf '\n%s\n' "$errors" >&2
        end
        if test "$code" = 0 -a -n "$command"
            if string match -qr '[\x01-\x08\x0b-\x1f\x7f\x{80}-\x{9f}]' -- "$command"
                printf '\ncaro: the command holds control characters, so it was not put on the line\n' >&2
            else
                commandline -r -- "$command"  # one change, so undo brings the request back
                commandline -f end-of-buffer
                if not commandline --is-valid
                    printf '\ncaro: fish cannot run this POSIX sh command as it is: run it with sh -c, or undo (Ctrl-Z)\n' >&2
                end
            end
        end
        commandline -f repaint
    end
    bind @CARO_KEY@ __caro_edit
    bind -M insert @CARO_KEY@ __caro_edit
end
