# jupyter configure (local): the access token (the parameter, or one generated once) in
# $DISCO_HOME/jupyter/token, readable by this user only. JupyterLab reads it from there
# (JUPYTER_TOKEN_FILE), so it is on no command line, where any user could see it.
set -euo pipefail
: "${DISCO_HOME:?}" "${PARAM_TOKEN?}"

mkdir -p "$DISCO_HOME/jupyter/notebooks" "$DISCO_HOME/jupyter/runtime"
token_file=$DISCO_HOME/jupyter/token
umask 077
if [ -n "$PARAM_TOKEN" ]; then
  if [[ ! $PARAM_TOKEN =~ ^[A-Za-z0-9._~-]+$ ]]; then
    echo "jupyter: the token may only contain letters, digits and . _ ~ - (not shown)" >&2
    exit 2
  fi
  printf '%s' "$PARAM_TOKEN" >"$token_file.tmp"
  mv "$token_file.tmp" "$token_file"
  echo "jupyter: token from the parameter stored in $token_file"
elif [ ! -s "$token_file" ]; then
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$token_file.tmp"
  mv "$token_file.tmp" "$token_file"
  echo "jupyter: token generated and stored in $token_file"
else
  echo "jupyter: keeping the token in $token_file"
fi
