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

/// A user name with ties (ASCII: every backend's collation orders it alike).
fn user_name(i: i64) -> String {
    format!("n{}", (i * 5) % 7)
}

async fn fill(db: &Db) {
    for (i, amount, time) in rows() {
        let t = chrono::NaiveDateTime::parse_from_str(&time, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        db.execute(
            "INSERT INTO trans_flow (id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
             VALUES (?, ?, ?, ?, 1, '充值', ?, '', ?, ?, 0)",
            &args![i, i % 3, user_name(i), format!("B{i:03}"), amount, t, t],
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
            SortCol::Column("user_id") => (a.0 % 3).cmp(&(b.0 % 3)),
            SortCol::Column("user_name") => user_name(a.0).cmp(&user_name(b.0)),
            SortCol::Column("trans_no") => a.0.cmp(&b.0),
            SortCol::Column(c) => panic!("no expectation for {c}"),
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
        for col in [
            SortCol::Id,
            SortCol::Time,
            SortCol::Amount,
            // Any other column: keyset (value, id) without an index.
            SortCol::Column("user_id"),
            SortCol::Column("user_name"),
            SortCol::Column("trans_no"),
        ] {
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

#[test]
fn headers_map_to_sort_orders() {
    assert_eq!(browse::sortable(View::Flows, "id"), Some(SortCol::Id));
    assert_eq!(
        browse::sortable(View::Flows, "create_time"),
        Some(SortCol::Time)
    );
    assert_eq!(
        browse::sortable(View::Flows, "trans_amount"),
        Some(SortCol::Amount)
    );
    assert_eq!(
        browse::sortable(View::Flows, "trans_no"),
        Some(SortCol::Column("trans_no"))
    );
    assert_eq!(
        browse::sortable(View::Accounts, "user_id"),
        Some(SortCol::Id)
    );
    // Computed per page: not sortable in SQL.
    assert_eq!(browse::sortable(View::Accounts, "expected_amount"), None);
    assert_eq!(browse::sortable(View::Accounts, "name"), None);
    assert!(browse::indexed(View::Flows, SortCol::Time));
    assert!(!browse::indexed(View::Flows, SortCol::Column("memo")));
    // Every view's columns: a title for each, and sortable ones round-trip.
    for v in View::ALL {
        for c in browse::columns(v) {
            if let Some(s) = browse::sortable(v, c) {
                assert!(browse::sort_column(v, s).is_some(), "{v:?} {c}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_and_account_names_on_every_backend() {
    for backend in ALL {
        let t = fresh_db(backend).await;
        let rw = Db::connect(&t.url, &ConnectOptions::read_write())
            .await
            .unwrap();
        payrecon::db::migrate(&rw).await.unwrap();
        fill(&rw).await;
        // Two accounts, one of them with a user_info row.
        for (uid, amount) in [(1_i64, Decimal::new(12345, 2)), (2, Decimal::new(-50, 2))] {
            rw.execute(
                "INSERT INTO user_account (user_id, amount, freeze_amount, version, is_deleted) VALUES (?, ?, ?, 0, 0)",
                &args![uid, amount, Decimal::ZERO],
            )
            .await
            .unwrap();
        }
        rw.execute(
            "INSERT INTO user_info (id, mobile, name) VALUES (1, '13800000001', '张三')",
            &args![],
        )
        .await
        .unwrap();
        rw.close().await;
        let db = Db::connect(&t.url, &ConnectOptions::interactive())
            .await
            .unwrap();
        let sum = |keep: &dyn Fn(i64) -> bool| -> Decimal {
            rows()
                .into_iter()
                .filter(|r| keep(r.0))
                .filter_map(|r| r.1)
                .sum()
        };
        let all = browse::totals(&db, View::Flows, &Filter::default())
            .await
            .unwrap();
        assert_eq!(all.count, 23, "{backend:?}");
        assert_eq!(all.amount, Some(sum(&|_| true)), "{backend:?}");
        let user1 = Filter {
            user_id: Some(1),
            ..Filter::default()
        };
        let one = browse::totals(&db, View::Flows, &user1).await.unwrap();
        assert_eq!(one.count, 8, "{backend:?}");
        assert_eq!(one.amount, Some(sum(&|i| i % 3 == 1)), "{backend:?}");
        assert_eq!(
            one.count,
            browse::count(&db, View::Flows, &user1).await.unwrap()
        );
        // Nothing matches: zero, not NULL.
        let none = Filter {
            user_id: Some(99),
            ..Filter::default()
        };
        let z = browse::totals(&db, View::Flows, &none).await.unwrap();
        assert_eq!((z.count, z.amount), (0, Some(Decimal::ZERO)));
        // Idempotency records have no amount.
        let idem = browse::totals(&db, View::Idempotency, &Filter::default())
            .await
            .unwrap();
        assert_eq!((idem.count, idem.amount), (0, None));
        let acc = browse::totals(&db, View::Accounts, &Filter::default())
            .await
            .unwrap();
        assert_eq!(acc.count, 2);
        assert_eq!(acc.amount, Some(Decimal::new(12295, 2)), "{backend:?}");
        // Accounts with name and mobile; a user without user_info has empty cells.
        let schema = payrecon::db::schema::discover(&db).await.unwrap();
        let mut p = browse::page(
            &db,
            View::Accounts,
            &Filter::default(),
            Sort::default(),
            &Cursor::First,
            10,
        )
        .await
        .unwrap();
        browse::with_user_names(&db, &schema, View::Accounts, &mut p)
            .await
            .unwrap();
        let cols = browse::columns(View::Accounts);
        assert_eq!(p.rows[0].len(), cols.len());
        assert_eq!(&p.rows[0][..4], ["1", "张三", "13800000001", "123.45"]);
        assert_eq!(&p.rows[1][..4], ["2", "", "", "-0.50"]);
        // Sorted by balance, pages walk it (cents on SQLite, DECIMAL elsewhere).
        let by_amount = Sort {
            col: SortCol::Amount,
            desc: false,
        };
        let first = browse::page(
            &db,
            View::Accounts,
            &Filter::default(),
            by_amount,
            &Cursor::First,
            1,
        )
        .await
        .unwrap();
        assert_eq!(first.keys[0].id, 2);
        let next = browse::page(
            &db,
            View::Accounts,
            &Filter::default(),
            by_amount,
            &Cursor::After(first.keys[0].clone()),
            1,
        )
        .await
        .unwrap();
        assert_eq!(
            next.keys.iter().map(|k| k.id).collect::<Vec<_>>(),
            [1],
            "{backend:?}"
        );
        // Without user_info, the names are empty and nothing fails.
        let mut no_info = schema.clone();
        no_info.tables.remove("user_info");
        let mut p = browse::page(
            &db,
            View::Accounts,
            &Filter::default(),
            Sort::default(),
            &Cursor::First,
            10,
        )
        .await
        .unwrap();
        browse::with_user_names(&db, &no_info, View::Accounts, &mut p)
            .await
            .unwrap();
        assert_eq!(&p.rows[0][..3], ["1", "", ""]);
    }
}

/// A SQLite database that stores its times to the second (`…03:00:00`, as
/// SQLite's own CURRENT_TIMESTAMP does), not payrecon's `….000`: paging by
/// time still visits every row once, ties included, and a range starting
/// exactly on a row's second keeps that row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_times_without_milliseconds_page_and_filter_exactly() {
    let t = fresh_db(Backend::Sqlite).await;
    let rw = Db::connect(&t.url, &ConnectOptions::read_write())
        .await
        .unwrap();
    payrecon::db::migrate(&rw).await.unwrap();
    for (i, _, time) in rows() {
        let seconds = time.trim_end_matches(".000").to_owned();
        rw.execute(
            "INSERT INTO trans_flow (id, user_id, user_name, trans_no, trans_type, trans_type_name, trans_amount, memo, create_time, update_time, is_deleted) \
             VALUES (?, 1, 'n', ?, 1, '充值', '1.00', '', ?, ?, 0)",
            &args![i, format!("B{i:03}"), seconds.clone(), seconds],
        )
        .await
        .unwrap();
    }
    rw.close().await;
    let db = Db::connect(&t.url, &ConnectOptions::interactive())
        .await
        .unwrap();
    for desc in [false, true] {
        let sort = Sort {
            col: SortCol::Time,
            desc,
        };
        let want = expected(Backend::Sqlite, sort, |_| true);
        let (forward, backward) = walk(&db, &Filter::default(), sort).await;
        assert_eq!(forward, want, "{sort:?}: forward walk");
        assert_eq!(backward, want, "{sort:?}: backward walk");
    }
    let at = |h: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    };
    let f = Filter {
        from: Some(at(3)),
        to: Some(at(4)),
        ..Filter::default()
    };
    let stamped = rows()
        .iter()
        .filter(|r| r.2.starts_with("2026-11-20 03:"))
        .count() as u64;
    assert!(stamped > 0);
    assert_eq!(browse::count(&db, View::Flows, &f).await.unwrap(), stamped);
}
