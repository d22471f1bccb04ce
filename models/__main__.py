"""Print each backbone's parameters, forward GFLOP and tap shapes:
``python -m models [--frames 16 --crop 112]``."""

import argparse

import models


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=16, help="clip length (default 16)")
    parser.add_argument("--crop", type=int, default=112, help="clip height and width (default 112)")
    args = parser.parse_args()
    print(f"| backbone | params (M) | GFLOP / clip | {' | '.join(models.TAP_NAMES)} |")
    print("| --- " * (3 + len(models.TAP_NAMES)) + "|")
    for name in models.BACKBONES:
        model = models.build_backbone(name, input_shape=(args.frames, args.crop, args.crop, 3))
        taps = " | ".join("×".join(str(d) for d in model.output[t].shape[1:]) for t in models.TAP_NAMES)
        print(f"| {name} | {model.count_params() / 1e6:.2f} | {models.conv_flops(model) / 1e9:.1f} | {taps} |")


if __name__ == "__main__":
    main()
