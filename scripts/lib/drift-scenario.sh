# The drift scenario of scripts/demo (sourced by it): `ctd gen` streams SEA concepts into the
# `sea` pipeline of config/examples/demo.yaml with two drifts of different kinds, the running
# daemon keeps the model fresh by itself, and this shows its progress live, then a summary table
# and a plot of prequential accuracy (sea-accuracy.png).
#
# Needs: CTD, CTD_CONFIG, BOOTSTRAP, WORK, OUT_DIR and q() (psql -Atc on the demo database).

SEA_SAMPLES=${SEA_SAMPLES:-60000}
SEA_RATE=${SEA_RATE:-700}          # samples a second
SEA_ABRUPT=$((SEA_SAMPLES / 3))    # concept 1 -> 4 (threshold 8 -> 9.5) at once
SEA_GRADUAL=$((SEA_SAMPLES * 2 / 3))  # concept 4 -> 3 (threshold 9.5 -> 7), sigmoid width 4000
SEA_WIDTH=4000
SEA_BOOTSTRAP=3000                 # samples before the first model (trained with `ctd train`)

sea_q() { q "$1"; }

# One line per new trigger event, training run, registry version since the last call.
SEEN_EVENT=0 SEEN_RUN=0 SEEN_VERSION=0
sea_report_news() {
  local line
  while IFS='|' read -r id trigger kind status reason; do
    [ -z "$id" ] && continue
    printf '  \033[33mfire\033[0m  event %s: trigger %s (%s) %s: %s\n' "$id" "$trigger" "$kind" "$status" "$reason"
    SEEN_EVENT=$id
  done < <(sea_q "SELECT e.event_id, e.trigger, e.kind, e.status, left(e.reason, 110) FROM trigger_events e
                 JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea' AND e.status <> 'held'
                 AND e.event_id > $SEEN_EVENT ORDER BY e.event_id")
  while IFS='|' read -r id status reason; do
    [ -z "$id" ] && continue
    printf '  \033[36mtrain\033[0m run %s %s (%s)\n' "$id" "$status" "$reason"
    SEEN_RUN=$id
  done < <(sea_q "SELECT r.run_id, r.status, left(r.reason, 60) FROM training_runs r JOIN pipelines p
                 USING (pipeline_id) WHERE p.name = 'sea' AND r.status NOT IN ('queued', 'running')
                 AND r.run_id > $SEEN_RUN ORDER BY r.run_id")
  while IFS='|' read -r version status reason; do
    [ -z "$version" ] && continue
    if [ "$status" = rejected ]; then
      printf '  \033[31mreject\033[0m version %s: %s\n' "$version" "$reason"
    else
      printf '  \033[32mpromote\033[0m version %s (%s): %s\n' "$version" "$status" "$reason"
    fi
    SEEN_VERSION=$version
  done < <(sea_q "SELECT v.version, v.status, left(v.status_reason, 110) FROM model_versions v
                 JOIN models m USING (model_id) WHERE m.name = 'sea' AND v.status NOT IN ('candidate', 'staging')
                 AND v.version > $SEEN_VERSION ORDER BY v.version")
}

# samples stored, production version, prequential accuracy of the newest 1,000 scored, the
# running training's progress.
sea_status_line() {
  local t=$1
  sea_q "SELECT format('%5ss  %6s samples stored  production %-4s  prequential accuracy (last 1000) %s%s',
      $t,
      (SELECT count(*) FROM samples s JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'),
      coalesce((SELECT 'v' || max(version) FROM prequential_scores ps JOIN pipelines p USING (pipeline_id)
                WHERE p.name = 'sea' AND seq_last = (SELECT max(seq_last) FROM prequential_scores
                JOIN pipelines USING (pipeline_id) WHERE name = 'sea')), '-'),
      coalesce((SELECT to_char(1 - sum(error_sum) / sum(samples), '0.000') FROM (SELECT error_sum, samples
                FROM prequential_scores ps JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'
                ORDER BY seq_first DESC LIMIT 2) w), '  -'),
      coalesce((SELECT format('  [run %s: epoch %s/%s, loss %s]', r.run_id, r.progress->>'epoch',
                r.spec->>'epochs', to_char((r.progress->>'loss')::float8, '0.000'))
                FROM training_runs r JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'
                AND r.status = 'running' AND r.progress->>'epoch' IS NOT NULL ORDER BY r.run_id DESC
                LIMIT 1), ''))"
}

sea_stored() { sea_q "SELECT count(*) FROM samples s JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'"; }

run_sea_scenario() {
  step "Drift scenario: SEA concepts, $SEA_SAMPLES samples at $SEA_RATE/s, an abrupt drift at $SEA_ABRUPT, a gradual one around $SEA_GRADUAL"
  echo "ctd gen --generator sea --samples $SEA_SAMPLES --drift 4@$SEA_ABRUPT --drift 3@$SEA_GRADUAL/$SEA_WIDTH --noise 0.05 --seed 7 --rate $SEA_RATE"
  $CTD gen --generator sea --pipeline sea --id-prefix sea- --samples "$SEA_SAMPLES" \
    --drift "4@$SEA_ABRUPT" --drift "3@$SEA_GRADUAL/$SEA_WIDTH" --noise 0.05 --seed 7 \
    --rate "$SEA_RATE" --brokers "$BOOTSTRAP" >"$WORK/gen.log" 2>&1 &
  GEN_PID=$!

  for _ in $(seq 1 600); do [ "$(sea_stored)" -ge "$SEA_BOOTSTRAP" ] && break; sleep 0.2; done
  echo "$(sea_stored) samples stored: an operator trains the first model (ctd train); from here on the daemon's loop keeps it fresh"
  $CTD train -c "$CTD_CONFIG" --pipeline sea --reason "bootstrap: the first model" \
    >"$WORK/sea-train.json" 2>"$WORK/sea-train.log" || { cat "$WORK/sea-train.log"; exit 1; }
  sea_report_news

  local start=$SECONDS next=0
  while kill -0 "$GEN_PID" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$next" ]; then
      sea_status_line $((SECONDS - start))
      next=$((next + 5))
    fi
    sea_report_news
    sleep 1
  done
  wait "$GEN_PID" || { echo "ctd gen failed:"; cat "$WORK/gen.log"; exit 1; }
  # The tail of the stream: the last samples are scored, a training in flight ends.
  for _ in $(seq 1 60); do
    local scored busy
    scored=$(sea_q "SELECT coalesce(max(seq_last), 0) >= (SELECT max(seq) FROM samples s JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea') FROM prequential_scores ps JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'")
    busy=$(sea_q "SELECT count(*) FROM training_runs r JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea' AND finished_at IS NULL")
    [ "$scored" = t ] && [ "$busy" = 0 ] && break
    sleep 1
  done
  sea_status_line $((SECONDS - start))
  sea_report_news
  sea_summary
  sea_plot
}

sea_summary() {
  step "Summary: the sea pipeline's versions"
  psql "$CTD_POSTGRES_DSN" -P pager=off -c "
WITH sea AS (SELECT pipeline_id FROM pipelines WHERE name = 'sea'),
     first_scored AS (SELECT version, min(seq_first) AS from_seq, sum(samples) AS scored,
                             round((1 - sum(error_sum) / sum(samples))::numeric, 3) AS accuracy
                        FROM prequential_scores WHERE pipeline_id = (SELECT pipeline_id FROM sea) GROUP BY version)
SELECT v.version, v.status, coalesce(e.trigger || ' (' || e.kind || ')', r.reason) AS triggered_by,
       v.seq_first || '..' || v.seq_last AS trained_on,
       round((v.metrics->'validation'->>'accuracy')::numeric, 3) AS val_accuracy,
       round((v.gate->>'candidate')::numeric, 3) AS holdout_log_loss,
       round((v.gate->>'champion')::numeric, 3) AS production_log_loss,
       f.from_seq AS serving_from_seq, f.scored AS samples_scored, f.accuracy AS prequential_accuracy
  FROM model_versions v JOIN models m USING (model_id)
  LEFT JOIN trigger_events e ON e.event_id = v.trigger_event_id
  LEFT JOIN training_runs r ON r.run_id = v.run_id
  LEFT JOIN first_scored f ON f.version = v.version
 WHERE m.name = 'sea' ORDER BY v.version"
  psql "$CTD_POSTGRES_DSN" -P pager=off -c "
SELECT e.event_id, e.trigger, e.kind, e.status, e.fed_seq AS at_seq, e.run_id, left(e.reason, 90) AS reason
  FROM trigger_events e JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea' ORDER BY e.event_id"
  sea_q "SELECT format('prequential accuracy over the stream: %s (%s samples scored)',
                to_char(1 - sum(error_sum) / sum(samples), '0.000'), sum(samples))
           FROM prequential_scores ps JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'"
}

# Seq of the generated sample with index i (samples are numbered in commit order, which
# interleaves the topic's partitions a little).
sea_seq_of() { sea_q "SELECT coalesce(min(seq), 0) FROM samples s JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea' AND sample_id = 'sea-$1'"; }

sea_plot() {
  local png="$OUT_DIR/sea-accuracy.png" data="$WORK/sea-accuracy.dat" marks="$WORK/sea-marks.gp"
  sea_q "SELECT (seq_first - 1) / 500 * 500 + 250, 1 - sum(error_sum) / sum(samples), min(version)
           FROM prequential_scores ps JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea'
          GROUP BY 1 ORDER BY 1" | tr '|' ' ' >"$data"
  : >"$marks"
  local abrupt gradual
  abrupt=$(sea_seq_of "$SEA_ABRUPT"); gradual=$(sea_seq_of "$SEA_GRADUAL")
  echo "set arrow from $abrupt, graph 0 to $abrupt, graph 1 nohead lw 2 lc rgb '#cc0000'" >>"$marks"
  echo "set label 'abrupt drift' at $abrupt, graph 0.06 offset 0.5,0 tc rgb '#cc0000'" >>"$marks"
  echo "set arrow from $gradual, graph 0 to $gradual, graph 1 nohead lw 2 dt 2 lc rgb '#cc0000'" >>"$marks"
  echo "set label 'gradual drift (centre)' at $gradual, graph 0.06 offset 0.5,0 tc rgb '#cc0000'" >>"$marks"
  while IFS='|' read -r seq trigger; do
    [ -z "$seq" ] && continue
    echo "set arrow from $seq, graph 0.88 to $seq, graph 0.80 lw 2 lc rgb '#e69f00'" >>"$marks"
  done < <(sea_q "SELECT fed_seq, trigger FROM trigger_events e JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea' AND e.status = 'started'")
  # Trainings that did not change production: a rejected candidate or a failed run, marked
  # where their trigger fired.
  while IFS='|' read -r seq what; do
    [ -z "$seq" ] && continue
    echo "set label '$what' at $seq, graph 0.76 center tc rgb '#cc0000'" >>"$marks"
  done < <(sea_q "SELECT min(e.fed_seq), CASE WHEN v.status = 'rejected' THEN 'x v' || v.version
                         ELSE 'x run ' || r.run_id END
                    FROM trigger_events e JOIN pipelines p USING (pipeline_id)
                    JOIN training_runs r ON r.run_id = e.run_id
                    LEFT JOIN model_versions v ON v.run_id = r.run_id
                   WHERE p.name = 'sea' AND (v.status = 'rejected' OR r.status = 'failed')
                   GROUP BY r.run_id, v.status, v.version")
  while IFS='|' read -r seq version; do
    [ -z "$seq" ] && continue
    echo "set arrow from $seq, graph 0 to $seq, graph 1 nohead lc rgb '#009e73'" >>"$marks"
    echo "set label 'v$version' at $seq, graph 0.95 offset 0.3,0 tc rgb '#009e73'" >>"$marks"
  done < <(sea_q "SELECT min(seq_first), version FROM prequential_scores ps JOIN pipelines p USING (pipeline_id) WHERE p.name = 'sea' GROUP BY version ORDER BY 1")
  gnuplot <<GP
set terminal pngcairo size 1200,500 font 'sans,10'
set output '$png'
set title 'ctd demo: prequential accuracy of the production model on the SEA stream (windows of 500 samples)'
set xlabel 'sample (sequence number)'
set ylabel 'accuracy'
set yrange [0.5:1.02]
set grid ytics
set key bottom right
load '$marks'
plot '$data' using 1:2 with lines lw 2 lc rgb '#0072b2' title 'prequential accuracy', \
     NaN with lines lw 2 lc rgb '#e69f00' title 'trigger fire (arrow)', \
     NaN with lines lc rgb '#009e73' title 'version starts serving', \
     NaN with points pt 2 lc rgb '#cc0000' title 'x: candidate rejected or run failed'
GP
  echo "plot: $png"
}
