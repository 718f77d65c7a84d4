#!/usr/bin/env bash
# One stint of the bundled model's training campaign (nbs/16_stints.ipynb, nbs/31_default_model.ipynb):
#   bash tools/campaign_stint.sh CORPUS RUN_DIR MINUTES
# resumes the steady warmup-stable-decay run in RUN_DIR (or starts it from the bundled weights when RUN_DIR holds
# none), trains it for MINUTES of wall clock in the background-friendly way (nice, 2 threads, one data worker), and
# leaves RUN_DIR/candidate.* to score with ft-eval. The log is RUN_DIR/stint-N.log, one line per epoch.
# FT_THREADS=1 when other heavy jobs share the machine: two threads then spend most of their time waiting for each
# other (beside two other jobs, an epoch of 300 steps had not ended after 21 minutes; alone it takes under 3).
# FT_PROCS=2 trains with two one-thread DDP processes under torchrun, each with half of every batch of 4 and its own
# data in the main process (nbs/16_stints.ipynb, 15_training_bench): faster on 2 cores when the machine is otherwise idle.
set -euo pipefail
corpus=${1:?corpus folder (ft-corpus build)}; run=${2:?run folder}; minutes=${3:?minutes}
mkdir -p "$run"
n=$(find "$run" -maxdepth 1 -name "stint-*.log" | wc -l)
procs=${FT_PROCS:-1}
if [ "$procs" -gt 1 ]; then
  threads=1; bs=$((4 / procs)); workers=0
  [ $((bs * procs)) -eq 4 ] || { echo "FT_PROCS must divide the batch of 4 (1, 2 or 4)" >&2; exit 2; }
  launch=(torchrun --standalone --nproc_per_node "$procs" -m frame_transformer.cli ft-train)
else
  threads=${FT_THREADS:-2}; bs=4; workers=1
  launch=(ft-train)
fi
export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads PYTHONUNBUFFERED=1
nice -n 10 "${launch[@]}" "$corpus/audio/train/instrumental" "$corpus/audio/train/vocals" \
  --config small --crop 128 --bs "$bs" --loss sdr --schedule wsd --lr 5e-4 --warmup 200 --decay 0.1 \
  --minutes "$minutes" --resume --init bundled --epoch-length 1200 --valid-length 64 --workers "$workers" --seed 0 \
  --out "$run" 2>&1 | grep --line-buffered -v "FutureWarning\|warnings.warn" | tee "$run/stint-$n.log"
