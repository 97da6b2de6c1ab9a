"""Command line: ``python -m fastbp demo`` runs the main job."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastbp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="worked examples, XOR training and a speed check")
    commands.add_parser("config", help="versions, CPU and the kernel path in use")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from fastbp.demo import main as demo
        demo()
    else:
        from fastbp import show_config
        show_config()
    return 0


if __name__ == "__main__":
    sys.exit(main())
