"""The training pipeline end to end on the real bundled model, at smoke scale: a 2-step SFT, a
2-step closed-loop GRPO from it (rollouts on the training track), the export of the adapter
to GGUF, loaded by llama.cpp next to the bundled base and answering a prompt, and the adapter
run in torch through the car's modules (what `eval --torch` scores).

Short prompts and a tight reasoning bound keep each step to seconds; the prompts the car uses
are exercised by the training commands, not here.
"""
import pytest
import torch

from robotxr1_ros.cli import main
from robotxr1_ros.evaluation.control_cases import ControlPrompt
from robotxr1_ros.llm.answer_format import mpc_answer
from robotxr1_ros.llm.backends import LlamaCppBackend
from robotxr1_ros.llm.decision import DecisionStatus, DecisionxR1
from robotxr1_ros.llm.features import StateFeatures
from robotxr1_ros.llm.grammar import ANSWER_ONLY, decision_grammar, mpc_grammar
from robotxr1_ros.llm.model_spec import ModelSpec
from robotxr1_ros.llm.parsing import parse_decision, parse_mpc_answer
from robotxr1_ros.llm.tuning import MPCxR1
from robotxr1_ros.training.export import export_adapter
from robotxr1_ros.training.grammar_constraint import GrammarCompiler
from robotxr1_ros.training.grpo import GrpoPrompt, GrpoSettings, completion_logprobs, train_grpo
from robotxr1_ros.training.metrics_log import read_metrics
from robotxr1_ros.training.rewards import ClosedLoopReward
from robotxr1_ros.training.rollouts import DefaultRunCache
from robotxr1_ros.training.run import RunSettings
from robotxr1_ros.training.sampling import sample_group
from robotxr1_ros.training.sft import example_ids, shared_prefix_answer_losses, train_sft
from robotxr1_ros.training.sft_data import DECISION, MPC, SftExample, read_examples
from robotxr1_ros.training.teacher import Teacher, packaged_teacher_file
from robotxr1_ros.training.torch_backend import TorchBackend
from robotxr1_ros.training.train_prompts import TRAIN_TRACK

PROMPT = ControlPrompt.of("reverse", "Back up.")
MESSAGES = [{"role": "system", "content": "Tune the MPC."}, {"role": "user", "content": PROMPT.text}]
REASONING_CHARS = 12
GOOD = mpc_answer("reverse", {"v_min": -1.4, "v_max": -0.9})
REVERSING = StateFeatures(time=2.0, data_samples=5, s_pos=(5.0, 4.6, 4.2, 3.8, 3.4), d_pos=(0.0,) * 5,
                          s_speed=(-0.8,) * 5, d_speed=(0.0,) * 5, d_left=(1.5,) * 5, d_right=(1.5,) * 5,
                          reversing=True, crashed=False, facing_wall=False)


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sft")
    examples = [SftExample(MPC, MESSAGES, GOOD, {})] * 2
    run = train_sft(RunSettings(out_dir=out, steps=2, learning_rate=1e-3, checkpoint_minutes=60.0), examples)
    return run


def test_sft_two_steps_write_metrics_checkpoints_adapter_and_curves(sft_run):
    rows = read_metrics(sft_run.out)
    assert [row["step"] for row in rows] == [1, 2]
    assert all(row["loss"] > 0 and row["answer_tokens"] > 10 for row in rows)
    assert rows[1]["loss"] < rows[0]["loss"]  # the same examples: the second step fits them better
    assert (sft_run.out / "adapter" / "adapter_model.safetensors").exists()
    assert (sft_run.out / "checkpoints" / "step-000002" / "optimizer.pt").exists()
    assert (sft_run.out / "curves.png").stat().st_size > 1000


def test_grpo_two_steps_from_the_sft_adapter_and_resume(sft_run, tmp_path):
    defaults = DefaultRunCache(tmp_path / "defaults.json")
    reward = ClosedLoopReward(TRAIN_TRACK, PROMPT, defaults.get(TRAIN_TRACK, PROMPT, _short_scenario()),
                              _short_scenario())
    prompts = [GrpoPrompt(MESSAGES, mpc_grammar(reasoning_chars=REASONING_CHARS), reward, {})]
    settings = RunSettings(out_dir=tmp_path / "grpo", init_from=str(sft_run.out / "adapter"), steps=1,
                           checkpoint_minutes=60.0)
    grpo = GrpoSettings(group_size=2, max_new_tokens=48, temperature=1.5, workers=0)
    train_grpo(settings, prompts, grpo)
    resumed = train_grpo(RunSettings(**{**vars(settings), "steps": 2, "resume": True}), prompts, grpo)
    rows = read_metrics(resumed.out)
    assert [row["step"] for row in rows] == [1, 2]
    for row in rows:
        assert row["completion_tokens"] > row["forced_tokens"] > 0  # the grammar forced the tags
        assert -4.0 <= row["reward_improvement"] <= 4.0
        assert {"reward_format", "reward_parsable", "reward_valid_names", "reward_length"} <= set(row)


def test_export_adapter_loads_in_llama_cpp_and_answers(sft_run, tmp_path):
    adapter = export_adapter(sft_run.out / "adapter", sft_run.base_dir, tmp_path / "adapter.gguf")
    assert 1e5 < adapter.stat().st_size < 2e7  # a few MB, not a model
    backend = ModelSpec(n_ctx=256, lora_path=str(adapter)).create()
    answer = backend.complete(MESSAGES, grammar=mpc_grammar(reasoning_chars=REASONING_CHARS), max_tokens=60)
    assert parse_mpc_answer(answer.text).found
    base = LlamaCppBackend(n_threads=1, n_ctx=256)
    assert base.complete(MESSAGES, max_tokens=30).text != backend.complete(MESSAGES, max_tokens=30).text


def test_constrained_samples_of_the_real_model_always_parse(sft_run):
    compiler = GrammarCompiler(sft_run.tokenizer, sft_run.policy.config.vocab_size)
    mpc = sample_group(sft_run.policy, sft_run.tokenizer, compiler, MESSAGES, mpc_grammar(reasoning_chars=8), 2, 48)
    for text, length in zip(mpc.texts, mpc.lengths, strict=True):
        if length < 48:  # finished within the budget, so the grammar's answer is complete
            assert parse_mpc_answer(text).found, text
    decision = sample_group(sft_run.policy, sft_run.tokenizer, compiler, MESSAGES, decision_grammar(reasoning_chars=8),
                            2, 40)
    assert all(n < 40 for n in decision.lengths)  # at most ~30 tokens fit the grammar
    assert all(parse_decision(text).adheres is not None for text in decision.texts), decision.texts
    assert bool(decision.forced.any()) and not bool((decision.forced & ~decision.mask).any())


def test_export_command_refuses_a_folder_without_a_trained_model(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "x.gguf")]) == 2
    assert "no trained model folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x.gguf")]) == 2
    assert "not a LoRA adapter folder" in capsys.readouterr().err


def _short_scenario():
    from robotxr1_ros.evaluation.control_cases import EVAL_SCENARIO

    return EVAL_SCENARIO


def test_torch_backend_runs_the_trained_adapter_through_the_cars_modules(sft_run, tmp_path, capsys):
    backend = TorchBackend(sft_run.out / "adapter")
    tuning = MPCxR1(backend, max_tokens=60, reasoning_chars=ANSWER_ONLY).tune(PROMPT.text)
    assert tuning.completion.text.startswith("<answer>new_mpc_params = {"), tuning.completion.text
    assert tuning.completion.prompt_tokens > 100  # the car's MPC prompt, system message included
    verdict = DecisionxR1(backend).decide("Reverse the car", REVERSING)
    assert verdict.status in (DecisionStatus.ADHERES, DecisionStatus.DOES_NOT_ADHERE), verdict
    # Read from the next-token probabilities in one pass, as the car reads it (LlamaCppBackend.choose).
    assert set(verdict.completion.option_logprobs) == {"True", "False"} and verdict.completion.completion_tokens == 1
    assert main(["eval", "control", "--mini", "--no-plots", "--torch", str(sft_run.out), "--out", str(tmp_path)]) == 2
    assert "not an adapter folder" in capsys.readouterr().err


def test_a_verdict_is_trained_as_the_car_reads_it(sft_run):
    tokenizer = sft_run.tokenizer
    decision = SftExample(DECISION, MESSAGES, "<answer>False</answer>", {})
    prompt, target = example_ids(tokenizer, decision)
    plain, _ = example_ids(tokenizer, SftExample(MPC, MESSAGES, GOOD, {}))
    assert tokenizer.decode(prompt[len(plain):]) == "<answer>" and len(target) == 1
    assert tokenizer.decode(target) == "False"


def test_train_sft_command_builds_the_cars_prompts_from_the_packaged_teacher(tmp_path):
    out = tmp_path / "sft"
    assert main(["train", "sft", "--steps", "1", "--batch-size", "2", "--mpc-examples", "2", "--decision-windows", "1",
                 "--decision-others", "1", "--out", str(out)]) == 0
    examples = read_examples(out / "sft_data.jsonl")
    kinds = [example.kind for example in examples]
    assert kinds.count(MPC) == 2
    unmet = [example.meta["window"] for example in examples if example.kind == DECISION and not example.meta["label"]]
    assert sorted(unmet) == list(range(8))  # one window per behaviour, each with one instruction it does not meet
    for example in examples:
        if example.kind == MPC:
            assert example.meta["rule"] == Teacher.load(packaged_teacher_file()).rules[example.meta["case"]]
            assert "Tunable parameters" in example.messages[0]["content"]
        else:
            assert example.answer in ("<answer>True</answer>", "<answer>False</answer>")
    assert len(read_metrics(out)) == 1 and (out / "adapter" / "adapter_model.safetensors").exists()


def test_shared_prompt_logprobs_equal_those_of_repeated_prompts(sft_run):
    compiler = GrammarCompiler(sft_run.tokenizer, sft_run.policy.config.vocab_size)
    group = sample_group(sft_run.policy, sft_run.tokenizer, compiler, MESSAGES, mpc_grammar(reasoning_chars=8), 3, 40)
    model = sft_run.policy
    size, length = group.completions.shape
    ids = torch.cat([group.prompt.unsqueeze(0).repeat(size, 1), group.completions], dim=1)
    attention = torch.cat([torch.ones(size, group.prompt.shape[0], dtype=torch.bool), group.mask], dim=1)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, -length - 1:-1].float()
        repeated = torch.log_softmax(logits, dim=-1).gather(-1, group.completions.unsqueeze(-1)).squeeze(-1)
        shared = completion_logprobs(model, group)
    assert shared.shape == (size, length) and len(set(group.lengths)) >= 1
    assert torch.allclose(shared[group.mask], repeated[group.mask], atol=1e-4)


def test_shared_prefix_sft_losses_equal_separate_forward_passes(sft_run):
    tokenizer, model = sft_run.tokenizer, sft_run.policy
    other = [MESSAGES[0], {"role": "user", "content": "Drive in reverse, please."}]
    items = [example_ids(tokenizer, SftExample(MPC, MESSAGES, GOOD, {})),
             example_ids(tokenizer, SftExample(MPC, other, mpc_answer("back", {"v_max": -1.0}), {})),
             example_ids(tokenizer, SftExample(MPC, MESSAGES, "<answer>new_mpc_params = {}</answer>", {}))]
    with torch.no_grad():
        shared, exact = shared_prefix_answer_losses(model, items)
        assert len(exact) == len(items) and not exact[2]  # an empty dict is not what the model writes
        for loss, (prompt, answer) in zip(shared, items, strict=True):
            ids = torch.tensor([prompt + answer])
            logits = model(input_ids=ids).logits[0, len(prompt) - 1:-1].float()
            assert float(loss) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, ids[0, len(prompt):])),
                                                abs=1e-4)
    # Without gradients through the shared prefix: the same losses, and the adapter still learns.
    model.zero_grad(set_to_none=True)
    losses = shared_prefix_answer_losses(model, items, prefix_grad=False).losses
    assert torch.allclose(losses.detach(), shared, atol=1e-4)
    losses.sum().backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)
