"""KFP component: build the RL prompt set from a pair dataset (thin wrapper over visual_erm.rl.prompts_set)."""

from kfp import dsl

from components.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def build_prompts(
    dataset: dsl.Input[dsl.Dataset],
    prompts: dsl.Output[dsl.Dataset],
    tasks: str = "all",
    n: int = 0,
    split: str = "all",
):
    """Build an RL prompt set: one row per reference image with the policy prompt; reference programs kept.

    Args:
        dataset: Pair dataset directory (synthesize output) or a JSONL corpus of reference programs.
        prompts: RL prompt set directory (data/<split>/*.parquet, manifest.json last; visual-erm-rl-prompts/1).
        tasks: all, or a comma list of chart, table, svg.
        n: At most this many prompts per task (0 = all).
        split: all, or a comma list of train, validation, test (the pair dataset's splits are kept).
    """
    from visual_erm.rl.prompts_set import build_prompt_set

    manifest = build_prompt_set(dataset.path, prompts.path, tasks, n or None, split)
    prompts.metadata["counts"] = manifest.get("counts")
