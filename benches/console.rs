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
        .block_on(Db::connect(&url, &ConnectOptions::interactive()))
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
    // Amount has no index in the contract: the database sorts the whole table.
    // Measured once, to show what the window waits for (it keeps the last page
    // on screen meanwhile).
    let t = Instant::now();
    page(
        &db,
        &none,
        Sort {
            col: SortCol::Amount,
            desc: true,
        },
        &Cursor::First,
    );
    println!(
        "| largest amount first (trans_amount has no index) | {} | one run; a full sort |",
        ms(t.elapsed())
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
    // The user the page's 11th flow belongs to: by id and by the phone number on file.
    let uid: i64 = first.rows[10][1].parse().unwrap();
    let mobile = rt
        .block_on(db.fetch_optional(
            "SELECT mobile FROM user_info WHERE id = ?",
            &payrecon::args![uid],
        ))
        .unwrap()
        .map(|r| r.text(0).unwrap());
    let d = time(&|| {
        rt.block_on(payrecon::case::lookup(
            &db,
            &payrecon::case::Query::User(uid),
        ))
        .unwrap();
    });
    println!("| case lookup by user id | {} | median of 7 |", ms(d));
    match mobile {
        Some(m) => {
            let d = time(&|| {
                rt.block_on(payrecon::case::lookup(
                    &db,
                    &payrecon::case::Query::Mobile(m.clone()),
                ))
                .unwrap();
            });
            println!("| case lookup by phone | {} | median of 7 |", ms(d));
        }
        None => println!("| case lookup by phone | – | no user_info row for user {uid} |"),
    }
    // The other big tables: recharge orders (one per flow) and accounts, whose page
    // computes each account's expected balance from its flows.
    for view in [View::Orders, View::Accounts] {
        let open = |c: &Cursor| {
            rt.block_on(browse::page(&db, view, &none, Sort::default(), c, 200))
                .unwrap()
        };
        let d = time(&|| {
            open(&Cursor::First);
        });
        let e = time(&|| {
            open(&Cursor::Last);
        });
        println!(
            "| {} view: first page / last page | {} / {} | median of 7 |",
            view.table(),
            ms(d),
            ms(e)
        );
    }

    // Memory does not grow with the table: page through 2,000 pages (400k rows).
    let mut c = Cursor::First;
    let t = Instant::now();
    let mut rss = Vec::new();
    for i in 1..=2000 {
        let p = page(&db, &none, Sort::default(), &c);
        c = Cursor::After(p.keys.last().cloned().unwrap());
        if i % 500 == 0 {
            rss.push(rss_mb().to_string());
        }
    }
    let per = t.elapsed() / 2000;
    println!(
        "| 2,000 next pages in a row | {} per page | RSS {} MB after the first page; after 500/1,000/1,500/2,000 pages: {} MB |",
        ms(per),
        rss0,
        rss.join(" / ")
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
        theme: None,
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
    let mut sorted = frames.clone();
    sorted.sort();
    let over = frames
        .iter()
        .filter(|d| **d > Duration::from_millis(8))
        .count();
    println!(
        "| frame (flows table, 200-row page, layout + tessellation) | {} | median of 300; p99 {}, max {}; {} of 300 over 8 ms |",
        ms(median(frames)),
        ms(sorted[sorted.len() * 99 / 100]),
        ms(sorted[sorted.len() - 1]),
        over
    );
}
