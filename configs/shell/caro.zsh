# caro shell integration for zsh (printed by `caro init zsh`). Load it from ~/.zshrc:
#     eval "$(caro init zsh)"
# @CARO_KEY_NAME@ turns what is typed on the prompt line into caro's command, put on the line
# with the cursor at its end; nothing runs until you press Enter, so history holds what ran.
# Undo (Ctrl-_ or Ctrl-X Ctrl-U) brings the request back. A blocked command never reaches the
# line: the reason is printed above the prompt and the request stays. See docs/shell.md.
if [[ -o interactive ]]; then
  __caro_edit() {
    emulate -L zsh
    # The request travels on stdin (never argv: `ps` would show it to other users), and the
    # answer is only ever assigned to BUFFER: nothing here evaluates it.
    local request=$BUFFER command errors tmp
    integer code
    [[ -n ${request//[[:space:]]/} ]] || return 0
    tmp=$(command mktemp "${TMPDIR:-/tmp}/caro.XXXXXX") || return 0
    zle -R "caro: working..."
    {
      command=$(print -rn -- "$request" | command caro --dry-run --output plain --shell zsh 2>"$tmp")
      code=$?
      errors=$(<"$tmp")
    } always {
      command rm -f -- "$tmp"
    }
    if [[ -n $errors ]]; then
      zle -I  # print above the prompt, which zle then draws again below
      print -ru2 -- "$errors"
    fi
    (( code == 0 )) && [[ -n $command ]] || return 0
    if [[ ${command//[$'\n\t']/} == *[[:cntrl:]]* ]]; then
      zle -I
      print -ru2 -- "caro: the command holds control characters, so it was not put on the line"
      return 0
    fi
    BUFFER=$command  # one change, so undo brings the request back
    CURSOR=$#BUFFER
  }
  zle -N __caro_edit
  bindkey -M emacs '@CARO_KEY@' __caro_edit
  bindkey -M viins '@CARO_KEY@' __caro_edit
fi
