//! End to end: `Engine::feed` on a buffer of realistic events (`benches/corpus.rs`), in 1 MiB
//! chunks as the CLI feeds it, output discarded after each chunk. A fresh engine per
//! iteration (built outside the timing), since replaying the same events into a warm engine
//! would make every event late.
//!
//! `cargo bench --bench engine [-- FILTER]`; `JCDETECT_BENCH_EVENTS` sets the corpus size
//! (default 50 000), `JCDETECT_BENCH_CORPUS_OUT=FILE` also writes the corpus to FILE.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jcdetect::{Config, Emit, Engine, Format, Options};
use std::hint::black_box;

#[path = "corpus.rs"]
mod corpus;

const CHUNK: usize = 1 << 20;

fn events_n() -> usize {
    std::env::var("JCDETECT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

/// Feed `input` in 1 MiB chunks; returns the output bytes produced.
fn replay(engine: &mut Engine, input: &[u8], out: &mut Vec<u8>) -> usize {
    let mut diags = Vec::new();
    let mut produced = 0;
    for chunk in input.chunks(CHUNK) {
        engine.feed(chunk, out, &mut diags);
        produced += out.len();
        out.clear();
        diags.clear();
    }
    engine.finish(out, &mut diags);
    produced += out.len();
    out.clear();
    produced
}

fn engine(c: &mut Criterion) {
    let input = corpus::corpus(events_n());
    // To replay the same corpus with `jcdetect bench` or `benches/replay.sh`.
    if let Some(path) = std::env::var_os("JCDETECT_BENCH_CORPUS_OUT") {
        std::fs::write(&path, &input).expect("write JCDETECT_BENCH_CORPUS_OUT");
    }
    let events = corpus::lines(&input).len() as u64;
    let cfg = Config::default();
    let modes = [
        ("ecs", Format::Ecs, Emit::Alerts),
        ("ocsf", Format::Ocsf, Emit::Alerts),
        ("ecs_emit_all", Format::Ecs, Emit::All),
    ];
    let mut out = Vec::with_capacity(2 * CHUNK);
    {
        let mut e = Engine::new(&cfg, Options::default());
        let produced = replay(&mut e, &input, &mut out);
        eprintln!(
            "engine_feed: {events} events, {} bytes in, {} alerts, {produced} bytes out (ecs)",
            input.len(),
            e.stats().total_alerts()
        );
    }
    // Bytes per second for the default mode only (the modes' ratios are in `engine_feed`).
    for (group, throughput, modes) in [
        ("engine_feed", Throughput::Elements(events), &modes[..]),
        (
            "engine_feed_bytes",
            Throughput::Bytes(input.len() as u64),
            &modes[..1],
        ),
    ] {
        let mut g = c.benchmark_group(group);
        g.throughput(throughput);
        // One iteration replays the whole corpus (tens of ms): fewer, longer samples.
        g.sample_size(20);
        for &(name, format, emit) in modes {
            let opts = Options {
                format,
                emit,
                ..Options::default()
            };
            g.bench_function(name, |b| {
                b.iter_batched(
                    || Engine::new(&cfg, opts),
                    |mut e| {
                        black_box(replay(&mut e, &input, &mut out));
                        e
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        g.finish();
    }
}

criterion_group!(benches, engine);
criterion_main!(benches);
