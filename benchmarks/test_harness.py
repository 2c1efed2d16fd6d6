"""The benchmark harness itself: FLOP counts against the formula, variant names, the
report and the profiler summary. Fast, CPU only, no pytest-benchmark needed."""

from __future__ import annotations

import json
import time

import pytest
import torch

from benchmarks import cores, profile_step, report
from reference import cifar10


def conv_flops(c_in, c_out, k, h_out, w_out):
    return 2 * c_in * k * k * c_out * h_out * w_out


def linear_flops(n_in, n_out):
    return 2 * n_in * n_out


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_lenet_flops_counted_in_code_equal_the_formula(batch):
    """LeNet: ~1.30 MFLOP forward per 32x32x3 image, ~3.2 MFLOP per training step.

    Backward costs two forwards (input grad + weight grad) for every layer but conv1,
    whose input (the images) needs no gradient."""
    conv1 = conv_flops(3, 6, 5, 28, 28)
    forward = (
        conv1
        + conv_flops(6, 16, 5, 10, 10)
        + linear_flops(400, 120)
        + linear_flops(120, 84)
        + linear_flops(84, 10)
    )
    assert forward == 1_303_440  # "about 1.30 MFLOP forward"
    step = forward + 2 * forward - conv1
    assert cores.flops_per_step(cores.cifar_core(batch)) == batch * step


def test_mlp_flops_counted_in_code_equal_the_formula():
    """The two-layer MLP, N=64, 1000-100-10: no gradient for the input x."""
    forward = 64 * (linear_flops(1000, 100) + linear_flops(100, 10))
    step = 3 * forward - 64 * linear_flops(1000, 100)
    assert cores.flops_per_step(cores.mlp_core()) == step


@pytest.mark.parametrize("name", ["turbo", "graph+fast", "eager+bf16+x", ""])
def test_an_unknown_variant_is_refused_naming_the_valid_ones(name):
    with pytest.raises(ValueError, match=r"expected one of .*eager.*\+fused"):
        cores.Variant.parse(name)


def test_each_base_has_one_strategy_that_says_what_it_needs():
    """The bases that capture CUDA graphs, and those that are the hand-written kernels, are
    read off their strategy classes; an option is a named property, a misspelt one an error."""
    assert cores.CUDA_ONLY == ("graph", "compiled_graph", "triton_graph")
    assert cores.HAND_WRITTEN == ("triton", "triton_graph", "cpu_fused")
    v = cores.Variant.parse("host+fused+bf16")
    assert v.strategy is cores.Host
    assert v.strategy.host
    assert not v.captured
    assert (v.fused, v.bf16, v.channels_last) == (True, True, False)
    with pytest.raises(AttributeError):
        v.fussed  # noqa: B018


def test_the_c_step_takes_bf16_and_nothing_else_and_the_triton_kernels_take_nothing():
    """A hand-written base takes only the options written for it: the C step its AMX tiles
    (``+bf16``), the Triton kernels none; each refusal names what it accepts."""
    v = cores.Variant.parse("cpu_fused+bf16")
    assert (v.base, v.bf16, v.strategy.cpu_only) == ("cpu_fused", True, True)
    with pytest.raises(ValueError, match=r"expected 'cpu_fused' with at most \['\+bf16'\]"):
        cores.Variant.parse("cpu_fused+channels_last")
    with pytest.raises(ValueError, match="expected 'triton' with no options"):
        cores.Variant.parse("triton+bf16")


def test_the_kernel_timer_reports_seconds_per_call_from_torchs_timer():
    """kernels_cli times with torch.utils.benchmark.Timer: a call that sleeps 2 ms reads
    at least 2 ms (a lower bound only: a busy machine is never a failure)."""
    from benchmarks import kernels_cli

    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.002)

    assert kernels_cli._time(fn, 5) >= 0.002
    assert len(calls) >= 5


def test_graph_variants_need_cuda_and_only_they_take_several_steps_per_graph():
    core = cores.cifar_core(4)
    with pytest.raises(ValueError, match="needs a cuda device"):
        cores.Runner(core, "graph", torch.device("cpu"))
    with pytest.raises(ValueError, match="steps_per_graph=10: expected 1"):
        cores.Runner(core, "eager", torch.device("cpu"), steps_per_graph=10)


def test_the_channels_last_model_is_the_notes_net_with_flatten_for_view():
    """Same layers, same initialization under one seed, same outputs; it differs only in
    accepting channels_last activations (spec/note/10 pins that the note's view refuses them)."""
    torch.manual_seed(0)
    note = cifar10.Net()
    torch.manual_seed(0)
    flat = cores.FlattenNet()
    torch.testing.assert_close(flat.state_dict(), note.state_dict(), rtol=0, atol=0)
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(flat(x), note(x), rtol=0, atol=0)


def test_the_cudnn_benchmark_switch_is_put_back():
    before = torch.backends.cudnn.benchmark
    with cores.cudnn_benchmark(True):
        assert torch.backends.cudnn.benchmark
    assert torch.backends.cudnn.benchmark == before


def bench_file(path, rows):
    benchmarks = [{"name": f"case{i}", "extra_info": r} for i, r in enumerate(rows)]
    path.write_text(json.dumps({"benchmarks": benchmarks}), encoding="utf-8")
    return path


def row(core, variant, device, threads, items, epoch):
    return {
        "core": core,
        "variant": variant,
        "device": device,
        "threads": threads,
        "batch": 4,
        "items_per_s": items,
        "us_per_step": 4e6 / items,
        "s_per_epoch": epoch,
        "pct_of_floor": 1.0,
        "setup_s": 0.0,
    }


def test_the_report_joins_files_and_computes_speed_up_against_the_notes_cpu_loop(tmp_path, capsys):
    a = bench_file(tmp_path / "a.json", [row("cifar4", "eager", "cpu", 1, 1000.0, 50.0)])
    b = bench_file(
        tmp_path / "b.json",
        [row("cifar4", "graph", "GPU", 1, 25000.0, 2.0), row("mlp", "eager", "cpu", 1, 9.0, None)],
    )
    md = tmp_path / "t.md"
    assert report.main([str(a), str(b), "--md", str(md)]) == 0
    lines = md.read_text(encoding="utf-8").splitlines()
    assert "s/epoch" in lines[0]
    graph = next(line for line in lines if "| graph |" in line)
    assert "| 25.00x |" in graph  # 25,000 / 1,000 img/s
    assert "| 2.00 |" in graph  # seconds per epoch
    mlp = next(line for line in lines if "| mlp |" in line)
    assert "|  |" in mlp  # no epoch for the MLP


def test_the_report_says_whether_the_gpu_targets_are_met_and_which_cpu_threads_win():
    """The targets: one epoch at batch 4 in <= 1.0 s, >= 3M img/s at large batch;
    the best GPU row decides (50,000 / 4 = 12,500 steps per epoch)."""
    rows = [
        row("cifar4", "eager", "cpu", 1, 1200.0, 41.7),
        row("cifar4", "eager", "cpu", 2, 1000.0, 50.0),
        row("cifar4", "graph", "H200", 1, 31_000.0, 1.6),
        row("cifar4", "triton_graph", "H200", 1, 50_000.0, 1.0),  # exactly on target
        {**row("cifar4096", "eager", "H200", 1, 1_200_000.0, 0.04), "batch": 4096},
        {**row("cifar16384", "graph+tconv", "H200", 1, 2_999_999.0, 0.02), "batch": 16384},
    ]
    lines = report.verdicts(rows)
    assert lines[0] == (
        "note semantics (batch 4) on H200: best 1.00 s per epoch (triton_graph); "
        "target <= 1.0 s: met"
    )
    assert lines[1] == (
        "large batch on H200: best 3.00M img/s (graph+tconv, batch 16384); "
        "target >= 3M img/s: not met"
    )
    assert lines[2] == (
        "cpu cifar4 eager batch 4: 1 thread(s) win: 1.20x the median rate of 2 "
        "(rounds not recorded)"
    )
    assert len(lines) == 3
    assert report.verdicts([row("cifar4", "eager", "cpu", 1, 1200.0, 41.7)]) == []


def test_the_report_sets_each_row_against_the_cpus_best_and_judges_the_cpu_targets(tmp_path):
    """A GPU row's second ratio is against the best CPU row of its size class (any
    variant, any thread count), not the eager loop; % of floor names its dtype; the CPU
    verdicts set the hand-written step against eager and PyTorch's best variant."""
    rows = [
        row("cifar4", "eager", "cpu", 1, 1000.0, 50.0),
        row("cifar4", "eager+channels_last", "cpu", 1, 1100.0, 45.0),
        row("cifar4", "cpu_fused", "cpu", 1, 4500.0, 11.1),
        row("cifar4", "triton_graph", "H200", 1, 90_000.0, 0.56),
        {**row("cifar512", "eager", "cpu", 2, 20_000.0, 2.5), "batch": 512},
        {**row("cifar512", "cpu_fused", "cpu", 2, 30_000.0, 1.7), "batch": 512},
        {**row("cifar4096", "eager", "H200", 1, 1_200_000.0, 0.04), "batch": 4096,
         "matmul_peak_dtype": "bfloat16", "isa": ""},
    ]  # fmt: skip
    rows[2]["isa"] = "Some CPU: avx512f amx_bf16"
    a = bench_file(tmp_path / "a.json", rows)
    md = tmp_path / "t.md"
    assert report.main([str(a), "--md", str(md)]) == 0
    text = md.read_text(encoding="utf-8")
    triton = next(line for line in text.splitlines() if "| triton_graph |" in line)
    assert "| 90.00x | 20.00x | 1.00 (fp32) |" in triton  # 90,000 / 1,000; / 4,500 (cpu_fused)
    large = next(line for line in text.splitlines() if "| cifar4096 |" in line)
    assert "| 40.00x | 1.00 (bf16) |" in large  # 1.2M / 30,000: the best CPU at large batch
    assert (
        "cpu note semantics (batch 4, 1 thread): cpu_fused 889 us/step, 4.50x eager, 4.09x "
        "PyTorch's best (eager+channels_last); target <= 500 us and >= 4x both: not met"
    ) in text  # 889 us > 500 us
    assert (
        "cpu large batch: cpu_fused 30,000 img/s (batch 512, 2 threads), 1.50x PyTorch's best "
        "(eager, batch 512, 2 threads, 20,000 img/s); target >= 3x: not met"
    ) in text
    assert "cpu ISA: Some CPU: avx512f amx_bf16" in text


def test_the_c_steps_bf16_option_counts_as_its_own_at_large_batch_and_not_as_the_notes():
    """cpu_fused+bf16 is the hand-written step (against PyTorch's best), labelled with its
    precision; at batch 4 it would not be the note's semantics, so that verdict skips it."""
    rows = [
        row("cifar4", "eager", "cpu", 1, 1000.0, 50.0),
        row("cifar4", "eager+channels_last", "cpu", 1, 1100.0, 45.0),
        row("cifar4", "cpu_fused", "cpu", 1, 4500.0, 11.1),
        {**row("cifar4", "cpu_fused+bf16", "cpu", 1, 9000.0, 5.0),
         "matmul_peak_dtype": "bfloat16"},
        {**row("cifar512", "eager+channels_last+bf16", "cpu", 2, 20_000.0, 2.5), "batch": 512,
         "matmul_peak_dtype": "bfloat16"},
        {**row("cifar512", "cpu_fused", "cpu", 2, 30_000.0, 1.7), "batch": 512},
        {**row("cifar512", "cpu_fused+bf16", "cpu", 2, 40_000.0, 1.3), "batch": 512,
         "matmul_peak_dtype": "bfloat16"},
    ]  # fmt: skip
    lines = report.cpu_verdicts(rows)
    assert lines[0].startswith("cpu note semantics (batch 4, 1 thread): cpu_fused 889 us/step")
    assert lines[1] == (
        "cpu large batch: cpu_fused+bf16 (bf16 products) 40,000 img/s (batch 512, 2 threads), "
        "2.00x PyTorch's best (eager+channels_last+bf16, batch 512, 2 threads, 20,000 img/s); "
        "target >= 3x: not met"
    )


def test_each_row_says_whether_it_keeps_the_notes_semantics():
    """The note's step is its Net at batch 4 in float32: any other batch or a bf16 variant
    is labelled so in the table's last column."""
    rows = [
        row("cifar4", "eager", "cpu", 1, 1000.0, 50.0),
        {**row("cifar4", "eager+bf16", "cuda", 1, 9000.0, 5.0), "matmul_peak_dtype": "bfloat16"},
        {**row("cifar512", "cpu_fused", "cpu", 2, 30_000.0, 1.7), "batch": 512},
        {**row("cifar512", "cpu_fused+bf16", "cpu", 2, 50_000.0, 1.0), "batch": 512,
         "matmul_peak_dtype": "bfloat16"},
        {**row("mlp", "eager", "cpu", 1, 80_000.0, 0.8), "batch": 64},
    ]  # fmt: skip
    lines = report.table(rows).splitlines()
    assert lines[0].endswith("| setup s | semantics |")
    assert [line.rsplit("|", 2)[1].strip() for line in lines[2:]] == [
        "the note's", "other precision", "other batch", "other batch, other precision",
        "not the note's step",
    ]  # fmt: skip


def test_the_large_batch_verdict_also_compares_batch_by_batch():
    """The verdict takes the best rate of each side over every large batch; the line after
    it sets each batch's best against PyTorch's best at that same batch."""
    rows = [
        {**row("cifar512", "eager+channels_last+bf16", "cpu", 2, 20_000.0, 2.5), "batch": 512},
        {**row("cifar512", "cpu_fused+bf16", "cpu", 2, 50_000.0, 1.0), "batch": 512},
        {**row("cifar4096", "eager+channels_last+bf16", "cpu", 2, 10_000.0, 5.0),
         "batch": 4096},
        {**row("cifar4096", "cpu_fused", "cpu", 2, 30_000.0, 1.7), "batch": 4096},
        {**row("cifar4096", "cpu_fused+bf16", "cpu", 2, 64_000.0, 0.8), "batch": 4096},
    ]  # fmt: skip
    lines = report.cpu_verdicts(rows)
    assert lines[0].startswith("cpu large batch: cpu_fused+bf16 64,000 img/s (batch 4096")
    assert "3.20x PyTorch's best (eager+channels_last+bf16, batch 512" in lines[0]
    assert lines[0].endswith("target >= 3x: met")
    assert lines[1] == (
        "cpu large batch, at the same batch: 512: 2.50x (cpu_fused+bf16 / "
        "eager+channels_last+bf16); 4096: 6.40x (cpu_fused+bf16 / eager+channels_last+bf16)"
    )


def test_the_cpu_kernels_are_read_from_onednns_log_and_named_once_per_variant():
    """What each variant ran: oneDNN's verbose lines (v1 format) give the kernels by
    operation, reorders left out; the report names each variant's once, whatever its
    rows (thread counts, batches)."""
    log = [
        "onednn_verbose,v1,primitive,info,template:operation,engine,primitive,implementation",
        "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32 dst:f32,,6x3x5x5,0.003",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx10_1_512_amx,"
        "forward_training,src:bf16,,mb4_ic3oc6,0.05",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,brgconv_bwd_w:avx10_1_512_amx,"
        "backward_weights,src:bf16,,mb4_ic3oc6,0.07",
        "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx10_1_512_amx,"
        "forward_training,src:bf16,,mb4_ic3oc6,0.05",
        "onednn_verbose,v1,primitive,exec,cpu,matmul,brg_matmul:avx10_1_512_amx,undef,src:bf16,,4x400:400x120,0.01",
    ]  # fmt: skip
    assert cores.onednn_kernels(log) == (
        "convolution brg_conv_fwd:avx10_1_512_amx brgconv_bwd_w:avx10_1_512_amx; "
        "matmul brg_matmul:avx10_1_512_amx"
    )
    assert cores.onednn_kernels(["some other line"]) == "no oneDNN kernel"
    rows = [
        {**row("cifar512", "eager", "cpu", 1, 10_000.0, 5.0), "batch": 512, "cpu_kernels": "K1"},
        {**row("cifar512", "eager", "cpu", 2, 18_000.0, 3.0), "batch": 512, "cpu_kernels": "K1"},
        {**row("cifar512", "cpu_fused", "cpu", 2, 30_000.0, 1.7), "batch": 512,
         "cpu_kernels": "AVX-512 FMA (float32)"},
    ]  # fmt: skip
    lines = report.cpu_verdicts(rows)
    assert [line for line in lines if line.startswith("cpu kernels")] == [
        "cpu kernels of eager: K1",
        "cpu kernels of cpu_fused: AVX-512 FMA (float32)",
    ]


def test_this_cpus_kernels_are_named_for_pytorchs_variants_and_the_c_step():
    """Live: PyTorch's eager step names ATen's vector level and oneDNN's kernels (or that
    none ran); the C step the units it was built for, as this CPU's flags say it has."""
    eager = cores.cpu_kernels("eager")
    assert eager.startswith("ATen "), eager
    assert ", oneDNN: " in eager, eager
    if cores.lenet_cpu.unavailable():
        return
    fused = cores.cpu_kernels("cpu_fused")  # built with -march=native: what /proc/cpuinfo has
    if "avx512f" in cores.cpu_isa().split():
        assert fused == "AVX-512 FMA (float32)", fused
    if not cores.lenet_cpu.amx_unavailable():
        assert "AMX-BF16 tiles (backward products)" in cores.cpu_kernels("cpu_fused+bf16")


def with_rounds(r, seconds_per_step):
    return {**r, "round_s_per_step": seconds_per_step}


def test_a_thread_count_wins_only_where_its_rounds_beat_the_other_ones():
    """Mann-Whitney on the 5 + 5 timed rounds: with all 25 pairs in its favour a count
    wins (exact one-sided p = 1/252), with 21 of 25 still (p = 12/252 = 0.048); with 20 of
    25 (p = 19/252 = 0.075) it is no clear winner, whatever the ratio of the medians."""
    pytest.importorskip("scipy")
    one = row("mlp", "eager", "cpu", 1, 40_000.0, None)
    two = row("mlp", "eager", "cpu", 2, 32_000.0, None)
    clear = report.verdicts([with_rounds(one, [1, 2, 3, 4, 5]), with_rounds(two, [6, 7, 8, 9, 10])])
    assert clear == [
        "cpu mlp eager batch 4: 1 thread(s) win: 1.25x the median rate of 2 "
        "(faster in 25 of 25 pairs of rounds, p = 0.004)"
    ]
    # the boundary: 1 thread's last round 8.5 beats one of 5, 6, 7, 8, 9 (21 of 25 pairs,
    # p = 12/252), at 9.5 none (20 of 25)
    just = [with_rounds(one, [1, 2, 3, 4, 8.5]), with_rounds(two, [5, 6, 7, 8, 9])]
    assert report.verdicts(just) == [
        "cpu mlp eager batch 4: 1 thread(s) win: 1.25x the median rate of 2 "
        "(faster in 21 of 25 pairs of rounds, p = 0.048)"
    ]
    close = [with_rounds(one, [1, 2, 3, 4, 9.5]), with_rounds(two, [5, 6, 7, 8, 9])]
    assert report.verdicts(close) == [
        "cpu mlp eager batch 4: no clear winner: 1 thread(s) 1.25x the median rate of 2 "
        "(faster in 20 of 25 pairs of rounds, p = 0.075)"
    ]


def test_the_report_reads_each_rounds_time_per_step_from_the_benchmark_file(tmp_path):
    r = {**row("mlp", "eager", "cpu", 1, 1000.0, None), "steps_per_round": 10}
    path = tmp_path / "b.json"
    bench = {"name": "c", "extra_info": r, "stats": {"data": [0.5, 0.25]}}
    path.write_text(json.dumps({"benchmarks": [bench]}), encoding="utf-8")
    assert report.rows_from(path)[0]["round_s_per_step"] == [0.05, 0.025]


def test_the_report_refuses_a_file_that_is_not_pytest_benchmark_json(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert report.main([str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "not a readable pytest-benchmark file" in err[0]


def test_the_profile_summary_counts_busy_time_span_and_idle_share():
    """Three 2-us kernels at t=0, 3, 6 over 1 step: busy 6 us, span 8 us, idle 25 %."""
    events = [
        {"name": "a", "ts": 0, "dur": 2},
        {"name": "b", "ts": 3, "dur": 2},
        {"name": "a", "ts": 6, "dur": 2},
    ]
    s = profile_step.summarize(events, steps=1, wall_us=10.0)
    assert s["events_per_step"] == 3
    assert s["gpu_busy_us_per_step"] == 6
    assert s["gpu_span_us_per_step"] == 8
    assert s["idle_share_of_span"] == pytest.approx(0.25)
    assert s["top"][0] == ("a", 4.0)


def test_the_profiler_only_sums_gpu_events_from_the_trace():
    trace = {
        "traceEvents": [
            {"cat": "kernel", "name": "k", "ts": 0, "dur": 1},
            {"cat": "cpu_op", "name": "aten::mm", "ts": 0, "dur": 50},
            {"cat": "gpu_memcpy", "name": "copy", "ts": 2, "dur": 1},
        ]
    }
    assert [e["name"] for e in profile_step.gpu_events(trace)] == ["k", "copy"]


@pytest.mark.parametrize(
    ("case", "message"),
    [("cifar9:eager", "CORE one of"), ("cifar4", "CORE:VARIANT"), ("cifar4:fast", "variant")],
)
def test_the_profiler_refuses_a_bad_case_by_name(case, message, capsys):
    assert profile_step.main([case]) == 2
    assert message in capsys.readouterr().err


def test_pad8_is_the_notes_net_on_zero_padded_channels():
    """Padding images and conv1's weight with zero channels changes no output (float32
    sums over 8 instead of 3 channels, hence the tolerance)."""
    torch.manual_seed(0)
    note = cifar10.Net()
    padded = cores.PaddedNet(note)
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(padded(cores.PaddedNet.pad(x)), note(x), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 8, 32, 32\)"):
        padded(x)


def test_pad8_weights_refuse_a_run_whose_padding_moved():
    core = cores.cifar_core(4)
    run = cores.runner(core, "eager+pad8", "cpu", cores.make_batches(core, 2))
    run.run(2)
    assert run.weights()["conv1.weight"].shape == (6, 3, 5, 5)
    with torch.no_grad():
        run.model.conv1.weight[0, 5, 0, 0] = 1e-3
    with pytest.raises(AssertionError, match="padded weights moved"):
        run.weights()
    with pytest.raises(ValueError, match="CIFAR Net only"):
        cores.Runner(cores.mlp_core(), "eager+pad8", torch.device("cpu"))


# ------------------------------------------------------------------ end to end (e2e.py)
@pytest.fixture(scope="module")
def tiny_cifar(tmp_path_factory):
    from reference import cifar10_data

    root = tmp_path_factory.mktemp("tiny-cifar")
    cifar10_data.write_cifar10(root, 24, 8, seed=1)
    return root


def test_decoded_batches_are_bit_for_bit_what_totensor_and_normalize_give(tiny_cifar):
    """normalize(decode(data set)) equals the note's transform applied image by image, exactly."""
    from benchmarks import e2e
    from reference import cifar10_data

    dataset = cifar10_data.load_cifar10(tiny_cifar, train=True, transform=cifar10.transform)
    images, labels = e2e.decode(dataset)
    assert images.dtype == torch.uint8
    assert images.shape == (24, 3, 32, 32)
    want = torch.stack([dataset[i][0] for i in range(len(dataset))])
    torch.testing.assert_close(e2e.normalize(images), want, rtol=0, atol=0)
    assert labels.tolist() == [dataset[i][1] for i in range(len(dataset))]


@pytest.mark.parametrize("workers", [0, 2])
def test_the_decoded_order_is_the_loaders_own_shuffle(tiny_cifar, workers):
    """The decoded variant draws the permutation DataLoader(shuffle=True) yields, epoch by epoch."""
    from torch.utils.data import DataLoader, TensorDataset

    from benchmarks import e2e

    script = e2e.NoteScript(tiny_cifar, "cpu", "decoded")
    torch.manual_seed(5)
    script.rng = torch.get_rng_state()
    loader = DataLoader(TensorDataset(torch.arange(24)), batch_size=4, shuffle=True,
                        num_workers=workers)  # fmt: skip
    torch.manual_seed(5)
    for _ in range(2):
        seen = torch.cat([batch for (batch,) in loader])
        assert script._draw_epoch_order().tolist() == seen.tolist()


def e2e_row(variant, device, s_per_epoch, script_s, **extra):
    return {"family": "e2e", "variant": variant, "device": device, "threads": 1,
            "loader": "", "us_per_step": s_per_epoch / 12.5, "s_per_epoch": s_per_epoch,
            "data_share": 0.5, "test_passes_s": 1.0, "script_s": script_s,
            "one_time_s": 0.0, **extra}  # fmt: skip


def test_the_e2e_report_judges_the_targets_on_the_ratios_measured_side_by_side():
    """CPU target: the interleaved ratio; GPU target: the whole script; GPU over CPU both ways."""
    rows = [
        e2e_row("as_written", "cpu", 40.0, 90.0),
        e2e_row("decoded", "cpu", 26.0, 50.0, vs_core_only_interleaved=1.05),
        e2e_row("core_only", "cpu", 20.0, 40.0),
        e2e_row("as_written", "H200", 30.0, 70.0),
        e2e_row("decoded+triton_graph", "H200", 0.6, 1.4),
        e2e_row("core_only", "H200", 0.5, 1.2),
    ]
    lines = "\n".join(report.e2e_verdicts(rows))
    assert "1.30x the core-only epoch 20.00 s; 1.05x in alternating rounds (fastest" in lines
    assert "(target <= 1.2x: met)" in lines
    assert "decoded+triton_graph 1.4 s (target <= 1.5 s: met)" in lines
    assert "H200 over cpu: as written 1.33x, optimized 43.33x per epoch" in lines
    table = report.e2e_table(rows)
    assert "| decoded | cpu | 1 |  | 2.1 | 26.00 | 50 % | 1.54x |" in table


def test_the_data_path_is_judged_on_the_notes_step_and_the_gpu_against_the_cpus_best():
    """A faster step end to end (the C step) does not pass for a cheap data path: the 1.2x
    target compares ends with core_only's own step; the GPU is set against the CPU's best."""
    rows = [
        e2e_row("as_written", "cpu", 40.0, 90.0),
        e2e_row("decoded", "cpu", 26.0, 50.0),
        e2e_row("decoded+cpu_fused", "cpu", 5.0, 12.0, step="cpu_fused"),
        e2e_row("core_only", "cpu", 20.0, 40.0),
        e2e_row("as_written", "H200", 30.0, 70.0),
        e2e_row("decoded+triton_graph", "H200", 0.5, 1.4, step="triton_graph"),
        e2e_row("decoded", "H200", 1.0, 2.4),
        e2e_row("core_only", "H200", 0.8, 1.2),
    ]
    lines = report.e2e_verdicts(rows)
    assert (
        "cpu: best end-to-end epoch 26.00 s (decoded) = 1.30x the core-only epoch 20.00 s "
        "(target <= 1.2x: not met)"
    ) in lines
    assert (
        "cpu: the fastest step end to end: decoded+cpu_fused 5.00 s per epoch, 4.00x the "
        "core-only epoch of the note's step"
    ) in lines
    assert "H200: best end-to-end epoch 1.00 s (decoded) = 1.25x the core-only epoch 0.80 s" in (
        lines
    )
    assert "H200 over cpu: as written 1.33x, optimized 10.00x per epoch" in lines


def test_a_sweep_records_a_failing_configuration_and_writes_its_json(tmp_path, capsys):
    """A configuration that raises is kept as its error, printed, and written with the rest."""
    import argparse

    from benchmarks import kernels_cli

    results = {"default": 38.2}
    kernels_cli.failed(results, "fc warps 16", RuntimeError("out of resources"), 22)
    out = tmp_path / "sweep.json"
    assert kernels_cli.finish(argparse.Namespace(json=str(out)), results) == 0
    printed = capsys.readouterr().out
    assert "fc warps 16            failed: RuntimeError('out of resources')" in printed
    assert json.loads(out.read_text()) == {
        "default": 38.2,
        "fc warps 16": "RuntimeError('out of resources')",
    }


def test_closing_a_script_stops_its_loader_workers_mid_epoch(tiny_cifar):
    """``close`` ends the worker processes of a loader stopped mid-epoch (public API only:
    the loaders dropped, their iterators finalised)."""
    import multiprocessing

    from benchmarks import e2e

    script = e2e.NoteScript(tiny_cifar, "cpu", "as_written")  # num_workers=2
    try:
        script.train_steps(1)  # one batch of six: the epoch's iterator and its workers live
        assert multiprocessing.active_children(), "expected the loader's two workers running"
    finally:
        script.close()
    assert multiprocessing.active_children() == []
