#!/bin/sh
# brochure.sh - serve the employer brochure (a binary PDF) as a download.
# Plain POSIX sh; needs only cat and wc.  The PDF lives next to the
# script in data/, which the server does not expose directly.

# Locate ourselves via $0 (what the server exec'd), else SCRIPT_FILENAME.
case $0 in
  */*) self=$0 ;;
  *)   self=${SCRIPT_FILENAME:-./$0} ;;
esac
dir=${self%/*}
file="$dir/data/acme-brochure.pdf"

case "${REQUEST_METHOD:-GET}" in
  GET|HEAD) ;;
  *)
    printf 'Status: 405 Method Not Allowed\nAllow: GET, HEAD\nContent-Type: text/plain\n\nMethod not allowed.\n'
    exit 0 ;;
esac

if [ ! -r "$file" ]; then
  printf 'Status: 404 Not Found\nContent-Type: text/plain\n\nBrochure not available.\n'
  exit 0
fi

size=$(( $(wc -c < "$file") + 0 ))
printf 'Content-Type: application/pdf\n'
printf 'Content-Length: %s\n' "$size"
printf 'Content-Disposition: attachment; filename="acme-jobs-brochure.pdf"\n'
printf 'Cache-Control: public, max-age=86400\n'
printf '\n'
[ "$REQUEST_METHOD" = HEAD ] || exec cat "$file"
