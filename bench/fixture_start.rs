//! Start-to-ready of the in-process fixture: `Emulator::start(Config::in_memory())` until the
//! first 200 on `/_emulator/health` through the fixture's own client, then drop.
//!
//!     cargo bench --bench fixture_start            # 30 starts
//!     cargo bench --bench fixture_start -- 100     # or any number
//!
//! Prints the median, p90 and max of `start()` returning and of the first health answer.

use std::time::{Duration, Instant};

use keyvault_emulator::{Config, Emulator};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<28} median {:>7.2} ms   p90 {:>7.2} ms   max {:>7.2} ms",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.9)),
        ms(samples[samples.len() - 1])
    );
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let (mut started, mut healthy) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
    runtime.block_on(async {
        for _ in 0..runs {
            let begin = Instant::now();
            let emulator = Emulator::start(Config::in_memory()).await.expect("the emulator starts");
            started.push(begin.elapsed());
            let client = emulator.http_client();
            let status = client.get(format!("{}/_emulator/health", emulator.http_url())).send().await.unwrap().status();
            assert_eq!(status, 200);
            healthy.push(begin.elapsed());
            emulator.shutdown().await;
        }
    });
    println!("in-process fixture, {runs} starts (in memory, default key pool):");
    report("Emulator::start returned", &mut started);
    report("first 200 on /_emulator/health", &mut healthy);
}
