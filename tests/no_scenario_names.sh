#!/bin/sh
# no_scenario_names.sh KPSIM DIR: fails when a file under DIR names one of the scenarios that
# `kpsim list` lists. The CLI is generic over the scenarios' kernel sides; a scenario name in it
# would mean scenario-specific code crept back in.
kpsim=$1 dir=$2
names=$("$kpsim" list | sed -n 's/^\([a-z][a-z0-9-]*\) .*/\1/p' | paste -sd'|' -)
[ -n "$names" ] || { echo "no_scenario_names: kpsim list listed no scenario"; exit 1; }
if grep -rnE "$names" "$dir"; then
  echo "no_scenario_names: $dir names a scenario (above)"
  exit 1
fi
echo "no_scenario_names: $dir names none of $names"
