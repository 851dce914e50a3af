//! Keyset paging of the console's tables (`payrecon::browse`) on SQLite,
//! PostgreSQL and MariaDB: walking forward page by page, and backward from
//! the last page, visits every row exactly once in the sorted order —
//! including NULL amounts and ties, which keyset conditions easily get wrong —
//! and filters are applied on every page.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use payrecon::args;
use payrecon::browse::{self, Cursor, Page, Sort, SortCol};
use payrecon::db::{ConnectOptions, Db};
use payrecon::views::{Filter, View};
use rust_decimal::Decimal;
use support::{ALL, Backend, fresh_db};

/// 23 flows: amounts repeat (ties broken by id), four are NULL, times repeat.
fn rows() -> Vec<(i64, Option<Decimal>, String)> {
    (1..=23)
        .map(|i: i64| {
            let amount = (i % 6 != 0).then(|| Decimal::new((i * 37) % 5 * 100 + 50, 2));
            let time = format!("2026-11-20 {:02}:00:00.000", (i * 7) % 5);
            (i, amount, time)
        })
        .collect()
}

async fn fill(db: &Db) {
    for (i, amount, time) in rows() {
        let t = chrono::NaiveDateTime::parse_from_str(&time, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        db.execute(
            "INSERT INTO trans_flow (id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
             VALUES (?, ?, 'u', ?, 1, '充值', ?, '', ?, ?, 0)",
            &args![i, i % 3, format!("B{i:03}"), amount, t, t],
        )
        .await
        .unwrap();
    }
}

/// The ids in the order the page walk must produce: by the sort value with
/// NULLs where the backend sorts them (lowest on SQLite/MySQL, highest on
/// PostgreSQL), ties by id.
fn expected(backend: Backend, sort: Sort, keep: impl Fn(i64) -> bool) -> Vec<i64> {
    let nulls_low = backend != Backend::Postgres;
    let mut v: Vec<_> = rows().into_iter().filter(|r| keep(r.0)).collect();
    v.sort_by(|a, b| {
        let by_value = match sort.col {
            SortCol::Id => std::cmp::Ordering::Equal,
            SortCol::Time => a.2.cmp(&b.2),
            SortCol::Amount => match (a.1, b.1) {
                (Some(x), Some(y)) => x.cmp(&y),
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) if nulls_low => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) if nulls_low => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
            },
        };
        by_value.then(a.0.cmp(&b.0))
    });
    let mut ids: Vec<i64> = v.into_iter().map(|r| r.0).collect();
    if sort.desc {
        ids.reverse();
    }
    ids
}

fn ids(p: &Page) -> Vec<i64> {
    p.keys.iter().map(|k| k.id).collect()
}

async fn walk(db: &Db, filter: &Filter, sort: Sort) -> (Vec<i64>, Vec<i64>) {
    let page = |c: Cursor| async move {
        browse::page(db, View::Flows, filter, sort, &c, 4)
            .await
            .unwrap()
    };
    // Forward from the first page.
    let mut forward = Vec::new();
    let mut p = page(Cursor::First).await;
    assert!(!p.has_prev);
    loop {
        forward.extend(ids(&p));
        if !p.has_next {
            break;
        }
        p = page(Cursor::After(p.keys.last().unwrap().clone())).await;
        assert!(p.has_prev);
    }
    // Backward from the last page, each page prepended.
    let mut backward: Vec<i64> = Vec::new();
    let mut p = page(Cursor::Last).await;
    assert!(!p.has_next);
    loop {
        let mut here = ids(&p);
        here.extend(backward);
        backward = here;
        if !p.has_prev {
            break;
        }
        p = page(Cursor::Before(p.keys.first().unwrap().clone())).await;
        assert!(p.has_next);
    }
    (forward, backward)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_paging_visits_every_row_once_in_order_on_every_backend() {
    for backend in ALL {
        let t = fresh_db(backend).await;
        let rw = Db::connect(&t.url, &ConnectOptions::read_write())
            .await
            .unwrap();
        payrecon::db::migrate(&rw).await.unwrap();
        fill(&rw).await;
        rw.close().await;
        let db = Db::connect(&t.url, &ConnectOptions::interactive())
            .await
            .unwrap();
        let user1 = Filter {
            user_id: Some(1),
            ..Filter::default()
        };
        for col in [SortCol::Id, SortCol::Time, SortCol::Amount] {
            for desc in [false, true] {
                let sort = Sort { col, desc };
                let want = expected(backend, sort, |_| true);
                let (forward, backward) = walk(&db, &Filter::default(), sort).await;
                assert_eq!(forward, want, "{backend:?} {sort:?}: forward walk");
                assert_eq!(backward, want, "{backend:?} {sort:?}: backward walk");
                let want = expected(backend, sort, |i| i % 3 == 1);
                let (forward, backward) = walk(&db, &user1, sort).await;
                assert_eq!(forward, want, "{backend:?} {sort:?}: user 1 forward");
                assert_eq!(backward, want, "{backend:?} {sort:?}: user 1 backward");
            }
        }
    }
}
