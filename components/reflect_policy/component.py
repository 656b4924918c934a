"""KFP component: a trained policy answers, then reflects and revises with the critic's feedback (thin wrapper over
visual_erm.rl.reflect)."""

from kfp import dsl

from components.images import TRAIN_IMAGE


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def reflect_policy(
    prompts: dsl.Input[dsl.Dataset],
    policy: dsl.Input[dsl.Model],
    responses: dsl.Output[dsl.Artifact],
    report: dsl.Output[dsl.Artifact],
    metrics: dsl.Output[dsl.Metrics],
    reward_model: dsl.Input[dsl.Model] = None,
    reward_endpoint: str = "",
    critic: str = "reward_model",
    variant: str = "released",
    rounds: int = 3,
    split: str = "test",
    n: int = 0,
    max_new_tokens: int = 1024,
):
    """Answer every prompt of a split, then revise with the critique as feedback for up to `rounds` rounds.

    Args:
        prompts: RL prompt set (build_prompts output).
        policy: The policy model directory (train_policy output), run in process.
        responses: JSONL of {id, response}: the best answer per prompt over all rounds (benchmark_policy input).
        report: reflect.json: per-round mean reward and execution rate, per-item rewards per round.
        metrics: Mean reward and execution rate of round 0 (no reflection) and of the best answers after all rounds.
        reward_model: Reward-model artifact run in process as the critic (when reward_endpoint is empty).
        reward_endpoint: OpenAI-compatible URL of the served reward model.
        critic: reward_model, structural or pixel.
        variant: Reward variant that scores each round (released, paper, ...).
        rounds: Revision rounds after the first answer (the paper's best: 3; 0 = no reflection).
        split: Prompt-set split answered.
        n: At most this many prompts per task (0 = all).
        max_new_tokens: Policy tokens per answer.
    """
    import json

    from visual_erm.rl.reflect import run_reflect

    rm_dir = reward_model.path if reward_model is not None and not reward_endpoint and critic == "reward_model" else None
    result = run_reflect(prompts.path, report.path, policy=policy.path, reward_model=rm_dir,
                         reward_endpoint=[reward_endpoint] if reward_endpoint else None, critic=critic,
                         variant=variant, rounds=rounds, n=n or None, split=split, max_new_tokens=max_new_tokens)
    with open(responses.path, "w") as fh:
        for item in result["items"]:
            fh.write(json.dumps({"id": item["id"], "response": item["best_answer"] or ""}) + "\n")
    first, last = result["rounds"][0], result["rounds"][-1]
    metrics.log_metric("items", result["config"]["n"])
    metrics.log_metric("rounds_run", len(result["rounds"]) - 1)
    metrics.log_metric("round0_mean_reward", round(first["mean_reward"], 4))
    metrics.log_metric("round0_exec_rate", round(first["exec_rate"], 4))
    metrics.log_metric("best_mean_reward", round(last["best_mean_reward"], 4))
    metrics.log_metric("best_exec_rate", round(last["best_exec_rate"], 4))
