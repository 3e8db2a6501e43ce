//! Paging stays cheap with 100,000 items in one folder.
mod common;

use std::time::{Duration, Instant};

use common::*;
use mailbox::{ContainmentMode, Field, Filter, FindSpec, NewItem, Paging};

#[tokio::test]
async fn paging_100k_items() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let t = Instant::now();
    for batch in 0..100 {
        let items: Vec<NewItem> = (0..1000)
            .map(|n| NewItem {
                item_class: if n % 10 == 0 {
                    "IPM.Note.Microsoft.Missed".into()
                } else {
                    "IPM.Note".into()
                },
                subject: Some(format!("{:06}", batch * 1000 + n)),
                ..NewItem::default()
            })
            .collect();
        s.create_items(&m, d("inbox"), items).await.unwrap();
    }
    eprintln!("inserted 100,000 items in {:?}", t.elapsed());
    assert_eq!(
        s.get_folder(&m, d("inbox")).await.unwrap().total_count,
        100_000
    );

    let mut slowest = Duration::ZERO;
    for (paging, first) in [
        (Paging::at(0, 50), "099999"),
        (Paging::at(50_000, 50), "049999"),
        (Paging::at(99_950, 50), "000049"),
        (Paging::from_end(0, 50), "000049"),
        (Paging::from_end(49_950, 50), "049999"),
    ] {
        let t = Instant::now();
        let page = s
            .find_items(
                &m,
                d("inbox"),
                FindSpec {
                    paging,
                    ..FindSpec::default()
                },
            )
            .await
            .unwrap();
        let took = t.elapsed();
        slowest = slowest.max(took);
        eprintln!("{paging:?}: {took:?}");
        assert_eq!(page.total, 100_000);
        assert_eq!(page.items.len(), 50);
        assert_eq!(page.items[0].subject.as_deref(), Some(first));
    }
    // A restricted view (ItemClass equality) pages too.
    let t = Instant::now();
    let page = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                restriction: Some(Filter::eq(Field::ItemClass, "IPM.Note.Microsoft.Missed")),
                paging: Paging::at(9_950, 50),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    eprintln!("restricted page: {:?}", t.elapsed());
    assert_eq!(page.total, 10_000);
    assert_eq!(page.items.len(), 50);
    assert!(page.includes_last);
    let page = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                restriction: Some(Filter::contains(
                    Field::Subject,
                    "99999",
                    ContainmentMode::Substring,
                    true,
                )),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].subject.as_deref(), Some("099999"));
    // Generous bound: catches a page that loads every skipped row, not scheduler noise.
    assert!(
        slowest < Duration::from_secs(5),
        "slowest page took {slowest:?}"
    );
}
