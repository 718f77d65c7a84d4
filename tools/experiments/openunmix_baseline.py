#!/usr/bin/env python
"""The Open-Unmix architecture trained on the same voxaug data as the bundled model, then scored with ft-eval's code.

    python tools/experiments/openunmix_baseline.py --corpus CORPUS --testset TESTSET --out OUT [--steps N | --minutes M] [--loss l1|sdr]

Same data pipeline, spectrogram (n_fft 2048, hop 1024, 1024 bins), crops (256 frames), batch (4), seed and loss (L1 on
the masked mixture magnitude) as `ft-train` for the bundled model; only the network differs: `openunmix.model.OpenUnmix`
(BLSTM, hidden size 512) from the `openunmix` package, random initialisation (no weights are downloaded). Its output
`relu(decoder) * mixture` is turned into an instrumental mask `clamp(output / mixture, 0, 1)` for the `Separator`.
Needs `pip install openunmix --no-deps` (torchaudio, which it imports for file I/O only, is stubbed if missing).
"""
import argparse, json, sys, time, types, warnings
from pathlib import Path
import torch, torch.nn as nn

def _openunmix():
    try: import torchaudio  # noqa: F401
    except Exception: sys.modules['torchaudio'] = types.ModuleType('torchaudio')
    from openunmix.model import OpenUnmix
    return OpenUnmix

class OpenUnmixMask(nn.Module):
    "Open-Unmix as an instrumental-mask model `(B, 2, bins, frames) -> (B, 2, bins, frames)` in [0, 1]."
    def __init__(self, config, hidden_size=512):
        super().__init__()
        self.config = config
        self.unmix = _openunmix()(nb_bins=config.bins, nb_channels=config.in_channels, hidden_size=hidden_size, max_bin=config.bins)
    def forward(self, mixture):
        estimate = self.unmix(mixture)                      # relu(decoder) * mixture: an instrumental magnitude
        return (estimate/(mixture + 1e-8)).clamp(0, 1)

def train(corpus, steps=None, minutes=None, seed=0, lr=1e-3, loss='l1'):
    from frame_transformer.model import CONFIGS
    from frame_transformer.voxaug import voxaug_dataloaders
    from frame_transformer.losses import MagnitudeSDRLoss
    config = CONFIGS['small']
    sdr_loss = MagnitudeSDRLoss()
    dls = voxaug_dataloaders(f'{corpus}/audio/train/instrumental', f'{corpus}/audio/train/vocals', config, bs=4,
                             epoch_length=256, valid_length=32, seed=seed, num_workers=1, device=torch.device('cpu'))
    torch.manual_seed(seed)
    model = OpenUnmixMask(config).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    done, started = 0, time.perf_counter()
    while True:
        for mixture, instrumental, vocals, *_ in dls.train:
            estimate = model(mixture)*mixture
            if loss == 'sdr': value = sdr_loss(torch.stack([estimate, mixture - estimate], 1), instrumental, vocals)
            else: value = (estimate - instrumental).abs().mean()
            opt.zero_grad(); value.backward(); opt.step(); done += 1
            elapsed = time.perf_counter() - started
            if done % 16 == 0: print(f'step {done}: {loss} loss {value.item():.5f}, {elapsed/60:.1f} min', flush=True)
            if (steps and done >= steps) or (minutes and elapsed >= minutes*60):
                return model.eval(), dict(steps=done, examples=4*done, wall_minutes=round(elapsed/60, 2),
                                          parameters=sum(p.numel() for p in model.parameters()))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--corpus', required=True, help='a corpus built by ft-corpus build')
    p.add_argument('--testset', required=True, help='a folder of test songs, as ft-eval reads them')
    p.add_argument('--out', required=True, help='where the evaluation report goes')
    p.add_argument('--steps', type=int); p.add_argument('--minutes', type=float); p.add_argument('--name', default='Open-Unmix')
    p.add_argument('--loss', default='l1', choices=['l1', 'sdr'], help='L1 on the instrumental magnitude, or the magnitude-SDR loss of ft-train --loss sdr')
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    model, info = train(a.corpus, a.steps, a.minutes, loss=a.loss)
    info['loss'] = a.loss
    print(info)
    from frame_transformer.separate import Separator
    from frame_transformer.evaluate import evaluate, write_results
    results = evaluate(a.testset, Separator(model=model, config=model.config, device='cpu'), methods=['model'], model_name=a.name)
    print(write_results(results, a.out).to_string())
    (Path(a.out)/'training.json').write_text(json.dumps(info, indent=1))
