#!/usr/bin/env bash
# `make fuzz`: builds every libFuzzer target in Fuzz/Targets/<name>.swift against the package's
# modules and runs each for FUZZ_SECONDS seconds (default 60), with the seeds in
# Fuzz/corpus/<name>/, then prints the executions per target.
#
# The modules are built by SwiftPM with -sanitize=fuzzer,address into .build/fuzz (a build of
# its own, so `swift build` and `make test` never need the fuzzer runtime); each target is one
# Swift file compiled by swiftc against those modules (debug builds are -enable-testing, so a
# target may `@testable import` them) and linked with their object files. New inputs the fuzzer
# finds go to .build/fuzz/corpus/<name>/ (not committed), crashes to .build/fuzz/crashes/.
# Adding a target: add Fuzz/Targets/<name>.swift defining LLVMFuzzerTestOneInput, and seeds in
# Fuzz/corpus/<name>/. FUZZ_TARGETS="a b" runs only those.
set -euo pipefail
cd "$(dirname "$0")/.."

swift=${SWIFT:-swift}
seconds=${FUZZ_SECONDS:-60}
build=.build/fuzz
targets=${FUZZ_TARGETS:-$(cd Fuzz/Targets && ls *.swift | sed 's/\.swift$//')}
modules="NHGDCommand NHGDReporting NaturalHypergradient NHGDExperiments NHGDBilevel NHGDSketches NHGDLinearAlgebra"

"$swift" build --build-path "$build" --sanitize=fuzzer --sanitize=address --target NHGDCommand
objects=()
for module in $modules; do objects+=("$build"/debug/"$module".build/*.o); done
swiftc="$(dirname "$(command -v "$swift")")/swiftc"
mkdir -p "$build/crashes"

summary=()
status=0
for target in $targets; do
    binary="$build/fuzz-$target"
    # ld.gold warns about ASan's local symbols on every link: not ours, filtered out.
    if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -g -I "$build/debug/Modules" \
            -Xcc -fmodule-map-file=Sources/CLAPACK/module.modulemap "Fuzz/Targets/$target.swift" "${objects[@]}" \
            $(pkg-config --libs lapacke) -lopenblas -o "$binary" > "$build/$target.link.log" 2>&1; then
        grep -v "Cannot export local symbol" "$build/$target.link.log" >&2
        exit 1
    fi
    mkdir -p "$build/corpus/$target"
    echo "fuzz: $target for $seconds s (log: $build/$target.log)"
    result=0
    # Swift's own crash backtracer reads other threads' stacks, which ASan reports as a bug of
    # its own and which hides the real message: leave crash reports to libFuzzer and ASan.
    SWIFT_BACKTRACE=enable=no "$binary" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$build/crashes/$target-" \
        "$build/corpus/$target" "Fuzz/corpus/$target" > "$build/$target.log" 2>&1 || result=$?
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/$target.log" | grep -o '[0-9]*$' || echo "?")
    corpus=$(ls "$build/corpus/$target" | wc -l)
    if [ "$result" -ne 0 ]; then
        status=1
        summary+=("$target: FAILED after $executions executions (exit $result); see $build/$target.log and $build/crashes/")
        grep -E -A15 '==ERROR|Fatal error|panic|deadly signal|SUMMARY' "$build/$target.log" | head -40 >&2 || true
    else
        summary+=("$target: $executions executions in $seconds s, no crash ($corpus inputs in its corpus)")
    fi
done
echo "---- fuzz summary ----"
printf '%s\n' "${summary[@]}"
exit $status
