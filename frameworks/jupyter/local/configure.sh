# jupyter configure (local): the access token (the parameter, or one generated once) in
# $DISCO_HOME/jupyter/token, readable by this user only. JupyterLab reads it from there
# (JUPYTER_TOKEN_FILE), so it is on no command line, where any user could see it.
set -euo pipefail
: "${DISCO_HOME:?}" "${PARAM_TOKEN?}"

mkdir -p "$DISCO_HOME/jupyter/notebooks" "$DISCO_HOME/jupyter/runtime"
disco_secret_file "$DISCO_HOME/jupyter/token" "$PARAM_TOKEN"
