#!/bin/sh
# check_cli.sh exits|parallel KPSIM SCENARIOS_DIR PYTHON CHECK_JUNIT_PY
#
# exits:    `kpsim check`'s one exit status for a suite: all clean 0, a violation 1, a script
#           that does not load 2 (beside a clean one: bad input outranks), inconclusive 3
#           (--max-steps 3), a violation beside an inconclusive case 1, bad options 2; and
#           --seed-from gives the same seed for the same string, another for another.
# interrupt: SIGINT while a case runs: exit 130, the running case stopped, the reports written
#           with every case skipped (not run), no case reported as passed.
# parallel: the built-in scripts with -j1 and -j2 give the same table, TAP stream and JUnit
#           report (time= attributes and the wall-time line removed): the reports follow the
#           case order, not the order the children finish in.
set -u
mode=$1 kpsim=$2 scenarios=$3 python=$4 checker=$5
outcomes=$scenarios/../tests/data/script-outcomes.txt
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail() { echo "check_cli ($mode): $*"; exit 1; }

# A script from the seed with its own check lines: NAME SET
make_script() {
  sed -e '/^check /d' -e "s/^scenario sockmap-multi-channels /scenario $1 /" \
    "$scenarios/sockmap-multi-channels.kps" >"$2/$1.kps"
  printf 'check strategy dfs\ncheck set %s\n' "$3" >>"$2/$1.kps"
}
# expect WANT ARGS...: kpsim check ARGS exits WANT
expect() {
  want=$1
  shift
  "$kpsim" check "$@" --quiet --artifacts art >out.txt 2>err.txt
  rc=$?
  [ "$rc" -eq "$want" ] || { cat out.txt err.txt; fail "kpsim check $* exited $rc, expected $want"; }
  echo "kpsim check $*: exit $rc"
}

case "$mode" in
  exits)
    mkdir pass fail bad inc empty
    make_script p1 pass proto=tcp
    make_script p2 pass 'proto=udp test=upstream'
    cp pass/p1.kps fail/ && make_script f1 fail proto=udp
    cp pass/p1.kps bad/ && sed 's/^  send(c1, c1_bytes) = c1_bytes$/  sned(c1, c1_bytes) = c1_bytes/' pass/p2.kps >bad/b1.kps
    cmp -s pass/p2.kps bad/b1.kps && fail "the bad script's edit did not apply"
    expect 0 pass
    expect 1 fail
    expect 1 pass/p1.kps fail/f1.kps
    expect 2 bad --junit bad.xml
    grep -q '^ *[0-9]*  b1  .* bad-input$' out.txt || { cat out.txt; fail "the table does not show b1 as bad-input"; }
    grep -q '^  .*bad/b1.kps:[0-9]*:[0-9]*: unknown statement .sned.' out.txt || { cat out.txt; fail "no file:line:col for the bad script"; }
    "$python" "$checker" bad.xml --tests 2 --failures 0 --errors 1 --skipped 0 || fail "bad.xml"
    expect 3 pass --max-steps 3
    expect 3 pass/p1.kps --strategy dfs --budget 1 --require-exhaustive
    # A script's own check lines hold over the command line's defaults; a definite violation
    # outranks an inconclusive case.
    make_script i1 inc proto=tcp && printf 'check budget 1\ncheck require-exhaustive\n' >>inc/i1.kps
    expect 3 inc --budget 1000
    expect 1 inc fail/f1.kps
    expect 2 nonexistent
    expect 2 empty
    expect 2 pass -j 0
    expect 2 pass --strategy bfs
    expect 2 pass --junit /dev/null/x.xml
    expect 0 pass --junit new-dir/x.xml && [ -f new-dir/x.xml ] || fail "--junit new-dir/x.xml: no report"
    s1=$("$kpsim" check pass --seed-from 6473800abc --quiet --artifacts art | tail -1)
    s2=$("$kpsim" check pass --seed-from 6473800abc --quiet --artifacts art | tail -1)
    s3=$("$kpsim" check pass --seed-from 6473800abd --quiet --artifacts art | tail -1)
    echo "$s1"; echo "$s3"
    [ "${s1%%,*}" = "${s2%%,*}" ] || fail "--seed-from: two seeds for one string ($s1 / $s2)"
    [ "${s1%%,*}" != "${s3%%,*}" ] || fail "--seed-from: one seed for two strings ($s1)"
    case "$s1" in "seed "[0-9]*" (from '6473800abc')"*) ;; *) fail "--seed-from: the summary says $s1" ;; esac
    ;;
  interrupt)
    mkdir long
    # Random search with a budget no machine finishes: only the signal ends these.
    for n in l1 l2 l3; do
      make_script $n long proto=udp && sed -i 's/^check strategy dfs$/check strategy random\ncheck budget 1000000000000/' long/$n.kps
      grep -q '^check budget 1000000000000$' long/$n.kps || fail "the long script's edit did not apply"
    done
    # Only passing orderings, so the search cannot stop at a violation either.
    sed -i 's/^check set proto=udp$/check set proto=tcp/' long/*.kps
    timeout --preserve-status -s INT 3 "$kpsim" check long -j2 --junit int.xml --tap --artifacts art >tap.txt 2>err.txt
    rc=$?
    cat err.txt tap.txt
    [ $rc -eq 130 ] || fail "interrupted check exited $rc, expected 130"
    "$python" "$checker" int.xml --tests 3 --failures 0 --errors 0 --skipped 3 || fail "int.xml"
    [ "$(grep -c '^ok [1-3] - l[1-3] proto=tcp # SKIP' tap.txt)" -eq 3 ] || fail "TAP: not 3 skipped cases"
    ;;
  parallel)
    for j in 1 2; do
      "$kpsim" check "$scenarios" -j$j --quiet --artifacts art$j --junit j$j.xml >table$j.txt 2>err$j.txt
      echo "-j$j: exit $?" >>exits.txt
      "$kpsim" check "$scenarios" -j$j --quiet --artifacts art$j --tap >tap$j.txt 2>/dev/null
      "$python" "$checker" j$j.xml --tests "$(grep -c '<testcase' j$j.xml)" --failures "$(grep -c '<failure' j$j.xml)" \
        --errors 0 --skipped 0 || fail "j$j.xml"
      # The artefact directory differs by name only.
      sed -i "s/art$j/art/g; s/ time=\"[0-9.]*\"//g" j$j.xml table$j.txt tap$j.txt
      sed -i '$d' table$j.txt  # "seed 1, -jN, wall time ...": the one line that may differ
    done
    cat exits.txt table1.txt
    [ "$(sort -u exits.txt | wc -l)" -eq 2 ] && grep -q '^-j1: exit 1$' exits.txt && grep -q '^-j2: exit 1$' exits.txt ||
      fail "exit statuses: $(cat exits.txt) (the built-in scripts have violations: 1)"
    [ "$(grep -c '^ *[0-9]' table1.txt)" -ge 30 ] || fail "fewer than 30 cases in the table"
    for f in table j tap; do
      ext=txt; [ $f = j ] && ext=xml
      cmp "${f}1.$ext" "${f}2.$ext" || { diff "${f}1.$ext" "${f}2.$ext"; fail "-j1 and -j2 differ in $f"; }
    done
    # The built-in scripts' check lines run what tests/data/script-outcomes.txt records: every
    # cell there is a row with its verdict (0 clean, 1 violation).
    grep '^[a-z]' "$outcomes" | while read -r name set want rest; do
      [ "$set" = - ] && set=defaults
      v=$(awk -v n="$name" -v s="$set" '$2 == n && $3 == s { print $NF }' table1.txt)
      [ "$want" = 0 ] && w=clean || w=violation
      [ "$v" = "$w" ] || { echo "check_cli: $name $set: the table says '$v', script-outcomes.txt $want"; exit 1; }
    done || fail "the table disagrees with $outcomes"
    ;;
  *) fail "mode must be exits or parallel" ;;
esac
echo "check_cli ($mode): ok"
