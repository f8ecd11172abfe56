# caro shell integration for bash 4+ (printed by `caro init bash`). Load it from ~/.bashrc:
#     eval "$(caro init bash)"
# @CARO_KEY_NAME@ turns what is typed on the prompt line into caro's command, put on the line
# with the cursor at its end; nothing runs until you press Enter, so history holds what ran.
# Undo (Ctrl-_ or Ctrl-X Ctrl-U) brings the request back. A blocked command never reaches the
# line: the reason is printed above the prompt and the request stays. See docs/shell.md.
if [[ $- == *i* ]]; then
  if (( BASH_VERSINFO[0] < 4 )); then
    printf 'caro: the @CARO_KEY_NAME@ binding needs bash 4 or later (this is bash %s)\n' "$BASH_VERSION" >&2
  else
    __caro_close() {
      [[ -z ${__caro_w-} ]] || exec {__caro_w}>&-
      [[ -z ${__caro_r-} ]] || exec {__caro_r}<&-
      unset __caro_w __caro_r
    }
    __caro_edit() {
      # The request travels on stdin (never argv: `ps` would show it to other users), and
      # the answer is only ever assigned to READLINE_LINE: nothing here evaluates it.
      local request=${READLINE_LINE-} command='' errors='' tmp code
      [[ -n ${request//[[:space:]]/} ]] || return 0
      # caro's messages go to a file that is unlinked at once, so an interrupted call leaves
      # nothing behind; its two descriptors are closed here, or by the next call.
      __caro_close
      tmp=$(command mktemp "${TMPDIR:-/tmp}/caro.XXXXXX") || return 0
      exec {__caro_w}>|"$tmp" {__caro_r}<"$tmp"
      command rm -f -- "$tmp"
      printf 'caro: working...' >&2
      # Written so that a user's `set -e` or `set -u` cannot end the shell from here.
      code=0
      command=$(printf '%s' "$request" | command caro --dry-run --output plain --shell bash 2>&"$__caro_w") || code=$?
      IFS= read -r -d '' errors <&"$__caro_r" || true
      __caro_close
      printf '\r\033[K' >&2
      [[ -z $errors ]] || printf '%s\n' "${errors%$'\n'}" >&2
      (( code == 0 )) && [[ -n $command ]] || return 0
      local shown=${command//[$'\n\t']/}
      if [[ $shown == *[[:cntrl:]]* ]]; then
        printf 'caro: the command holds control characters, so it was not put on the line\n' >&2
        return 0
      fi
      READLINE_LINE=$command
      local LC_ALL=C  # READLINE_POINT counts bytes
      READLINE_POINT=${#READLINE_LINE}
    }
    bind -m emacs -x '"@CARO_KEY@": __caro_edit'
    bind -m vi-insert -x '"@CARO_KEY@": __caro_edit'
  fi
fi
