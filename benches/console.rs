//! The console's §9 targets on a large database: first page, jumps (end of
//! table, a filter on an indexed column), frame time and memory while paging.
//!
//! `cargo bench --bench console -- sqlite:///tmp/payrecon-bench/10000000/pay.db`
//! (any URL; the data comes from `benches/generate.sh`). Prints a markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_arithmetic)]

use payrecon::browse::{self, Cursor, Sort, SortCol};
use payrecon::db::{ConnectOptions, Db, schema};
use payrecon::views::{Filter, View};
use std::time::{Duration, Instant};

fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let url = std::env::args()
        .skip(1)
        .find(|a| a.contains("://"))
        .unwrap_or_else(|| "sqlite:///tmp/payrecon-bench/10000000/pay.db".into());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page = |db: &Db, f: &Filter, sort: Sort, c: &Cursor| {
        rt.block_on(browse::page(db, View::Flows, f, sort, c, 200))
            .unwrap()
    };
    println!("| step | time (ms) | note |\n|---|---:|---|");
    // Opening: connect, read the schema, first page — what the window waits for.
    let t = Instant::now();
    let db = rt
        .block_on(Db::connect(&url, &ConnectOptions::read_only()))
        .unwrap();
    rt.block_on(schema::discover(&db)).unwrap();
    let first = page(&db, &Filter::default(), Sort::default(), &Cursor::First);
    println!(
        "| open: connect + schema + first page of trans_flow | {} | {} rows |",
        ms(t.elapsed()),
        first.rows.len()
    );
    let rss0 = rss_mb();

    let time = |f: &dyn Fn()| {
        let v: Vec<Duration> = (0..7)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        median(v)
    };
    let none = Filter::default();
    let d = time(&|| {
        page(&db, &none, Sort::default(), &Cursor::First);
    });
    println!("| first page (warm) | {} | median of 7 |", ms(d));
    let d = time(&|| {
        page(&db, &none, Sort::default(), &Cursor::Last);
    });
    println!("| jump to the end (last page) | {} | median of 7 |", ms(d));
    let by_time = Sort {
        col: SortCol::Time,
        desc: true,
    };
    let d = time(&|| {
        page(&db, &none, by_time, &Cursor::First);
    });
    println!(
        "| newest first (sort by create_time desc) | {} | median of 7 |",
        ms(d)
    );
    let last = first.keys.last().cloned().unwrap();
    let d = time(&|| {
        page(&db, &none, Sort::default(), &Cursor::After(last.clone()));
    });
    println!("| next page | {} | median of 7 |", ms(d));
    let user = Filter {
        user_id: Some(4242),
        ..Filter::default()
    };
    let d = time(&|| {
        page(&db, &user, Sort::default(), &Cursor::First);
    });
    println!(
        "| filter user_id = 4242 (indexed) | {} | median of 7 |",
        ms(d)
    );
    let key_text = first.rows[first.rows.len() / 2][3].clone();
    let key = Filter {
        key: Some(key_text),
        ..Filter::default()
    };
    let d = time(&|| {
        page(&db, &key, Sort::default(), &Cursor::First);
    });
    println!(
        "| filter trans_no = … (indexed) | {} | median of 7 |",
        ms(d)
    );
    let d = time(&|| {
        rt.block_on(payrecon::case::lookup(
            &db,
            &payrecon::case::Query::Bill(first.rows[10][3].clone()),
        ))
        .unwrap();
    });
    println!("| case lookup by agentBillNo | {} | median of 7 |", ms(d));

    // Memory does not grow with the table: page through 2,000 pages (400k rows).
    let mut c = Cursor::First;
    let t = Instant::now();
    for _ in 0..2000 {
        let p = page(&db, &none, Sort::default(), &c);
        c = Cursor::After(p.keys.last().cloned().unwrap());
    }
    let per = t.elapsed() / 2000;
    println!(
        "| 2,000 next pages in a row | {} per page | RSS {} MB after the first page, {} MB after 400k rows |",
        ms(per),
        rss0,
        rss_mb()
    );

    // Frames: the real app on the flows table, laid out headless (kittest).
    let dir = std::env::temp_dir().join("payrecon-console-bench");
    let _ = std::fs::create_dir_all(&dir);
    let app = payrecon::gui::App::new(payrecon::gui::Options {
        db: Some(url.clone()),
        workspace: dir.join("workspace.db"),
        screen: Some(payrecon::gui::Screen::Flows),
        lang: Some(payrecon::gui::Lang::Zh),
        case_query: None,
        system_fonts: false,
    })
    .unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1360.0, 860.0))
        .with_accessibility_check(false)
        .build_ui_state(|ui, app: &mut payrecon::gui::App| app.show(ui), app);
    let t = Instant::now();
    while !h.state().connected() || h.state().busy() {
        h.step();
        std::thread::sleep(Duration::from_millis(1));
        assert!(t.elapsed() < Duration::from_secs(120));
    }
    for _ in 0..10 {
        h.step();
    }
    let frames: Vec<Duration> = (0..300)
        .map(|_| {
            let t = Instant::now();
            h.step();
            t.elapsed()
        })
        .collect();
    let max = frames.iter().max().copied().unwrap_or_default();
    println!(
        "| frame (flows table, 200-row page, layout + tessellation) | {} | median of 300; max {} |",
        ms(median(frames)),
        ms(max)
    );
}
