"""Learning by driving: SFT from the oracle, closed-loop GRPO in the simulator, export to GGUF.

Everything here needs the training stack (requirements/train.txt: torch, transformers, peft,
accelerate, xgrammar, gguf) except the data and reward modules (train_prompts, teacher, sft_data,
rewards, rollouts), which are plain Python over the simulator and the LLM layer's parsers.
"""
