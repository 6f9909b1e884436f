#!/bin/sh
# Generates the locale $2 (e.g. de_DE.UTF-8) as the folder $1/$2, for
# LOCPATH=$1 (no root needed), then touches the stamp file $3. localedef (Debian's `locales`) exits 1 on
# mere warnings; what counts is that the locale's data is there.
set -u
dir=$1 name=$2 stamp=$3
lang=${name%%.*} charset=${name#*.}
mkdir -p "$dir"
localedef -i "$lang" -f "$charset" "$dir/$name" 2>"$dir/$name.log"
if [ ! -e "$dir/$name/LC_NUMERIC" ]; then
  echo "could not generate the locale $name (Debian package 'locales'):" >&2
  cat "$dir/$name.log" >&2
  exit 1
fi
touch "$stamp"
