#!/usr/bin/env bash
# Mutation testing of scrubline.core with mutmut 3: each mutant is a small change to one function
# (a flipped comparison, an off-by-one, a dropped call); a mutant the tests still pass on is a
# "survivor", a behaviour no test pins down.
#
#   pip install -e ".[dev,mutation]"
#   tests/mutation/run.sh                 # every core module below (hours on a laptop)
#   tests/mutation/run.sh timeline phases # only these modules, each with its own tests
#   MUTMUT_CHILDREN=4 tests/mutation/run.sh store
#   MUTMUT_NAMES="$(cat survivors.txt)" tests/mutation/run.sh timeline   # only these mutants
#   MUTMUT_NAMES='scrubline.core.store.xǁCaseStoreǁfor_video__mutmut_*' tests/mutation/run.sh store
#                                         # only one function's mutants (fnmatch patterns)
#
# Then, in .work/mutation/MODULE: `mutmut results` lists survivors, `mutmut show NAME` shows one.
#
# Why a staging tree: mutmut 3 imports the mutated code from mutants/src (or mutants/.) and names
# modules after their path below it, so app/scrubline is staged as src/scrubline in
# .work/mutation/MODULE (git-ignored), beside copies of tests/, models/ and resources/. The working tree
# is never modified. Linux and macOS only (mutmut forks per mutant).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

# Each module with the tests that exercise it (mutmut runs, per mutant, only the tests among
# these that reach the mutated function).
declare -A TESTS=(
  [timeline]="tests/core/test_timeline.py tests/core/test_timeline_rules.py tests/core/test_tips.py tests/core/test_bleeding_gate.py tests/core/test_in_body.py tests/core/test_properties.py tests/core/test_export.py tests/core/test_promises.py"
  [phases]="tests/core/test_phases.py tests/core/test_phases_rules.py tests/core/test_phase_model.py tests/core/test_properties.py tests/core/test_promises.py"
  [outcome]="tests/core/test_outcome.py tests/core/test_outcome_rules.py tests/core/test_outcome_rate.py tests/core/test_promises.py"
  [store]="tests/core/test_store.py tests/core/test_store_rules.py tests/core/test_case.py tests/core/test_case_integrity.py tests/core/test_journal.py tests/core/test_nearest.py tests/core/test_properties.py tests/core/test_export.py tests/core/test_promises.py"
  [export]="tests/core/test_export.py tests/core/test_export_rules.py tests/core/test_in_body.py tests/core/test_case.py tests/core/test_case_integrity.py tests/core/test_resume_export.py tests/core/test_outcome_rate.py tests/core/test_properties.py tests/core/test_promises.py"
  [video]="tests/core/test_video.py tests/core/test_video_rules.py tests/core/test_video_seek_rules.py tests/core/test_video_index_rules.py tests/core/test_video_iteration_rules.py tests/core/test_video_info_rules.py tests/core/test_rotation.py tests/core/test_promises.py"
  [analysis]="tests/core/test_analysis.py tests/core/test_analysis_rules.py tests/core/test_proxy.py tests/core/test_resume_export.py tests/core/test_caselock.py tests/core/test_journal.py tests/core/test_outcome_rate.py"
)
ALL=(timeline phases outcome store export video analysis)
MODULES=("${@:-${ALL[@]}}")

for module in "${MODULES[@]}"; do
  if [[ -z "${TESTS[$module]:-}" ]]; then
    echo "error: unknown module '$module' (known: ${ALL[*]})" >&2
    exit 2
  fi
done

for module in "${MODULES[@]}"; do
  echo "== scrubline.core.$module"
  STAGE=$ROOT/.work/mutation/$module
  rm -rf "$STAGE"
  mkdir -p "$STAGE"
  cp -r app "$STAGE/src"
  cp -r tests models resources "$STAGE/"
  find "$STAGE" -name __pycache__ -prune -exec rm -rf {} +
  # The project's settings plus this run's mutmut section.
  sed '/^\[tool\.mutmut\]/,$d' pyproject.toml > "$STAGE/pyproject.toml"
  tests_toml=$(printf '"%s", ' ${TESTS[$module]})
  cat >> "$STAGE/pyproject.toml" <<EOF

[tool.mutmut]
source_paths = ["src/scrubline"]
only_mutate = ["src/scrubline/core/$module.py"]
also_copy = ["models", "resources"]
pytest_add_cli_args = ["-p", "no:randomly", "-p", "no:cacheprovider", "-x", "-q"]
pytest_add_cli_args_test_selection = [${tests_toml%, }]
EOF
  (
    cd "$STAGE"
    export SCRUBLINE_DATA=/nonexistent QT_QPA_PLATFORM=offscreen
    # MUTMUT_NAMES is split on spaces but never globbed here: mutmut matches its patterns.
    set -f
    # shellcheck disable=SC2086
    mutmut run --max-children "${MUTMUT_CHILDREN:-2}" ${MUTMUT_NAMES:-} > run.log 2>&1 || true
    mutmut results --all true > results.txt 2>&1 || true
    python - "$module" results.txt <<'PY'
import collections, sys
module, path = sys.argv[1], sys.argv[2]
counts = collections.Counter()
for line in open(path, encoding="utf-8"):
    name, _, status = line.strip().rpartition(": ")
    if "__mutmut_" in name:
        counts[status] += 1
unchecked = counts.pop("not checked", 0)  # left out by MUTMUT_NAMES
total = sum(counts.values())
killed = counts["killed"] + counts["timeout"]
if total:
    print(
        f"scrubline.core.{module}: {killed}/{total} mutants killed ({100 * killed / total:.1f} %): "
        f"{dict(counts)}" + (f"; {unchecked} not run" if unchecked else "")
    )
else:
    print(f"scrubline.core.{module}: no mutants recorded; see .work/mutation/{module}/run.log")
PY
  )
done
