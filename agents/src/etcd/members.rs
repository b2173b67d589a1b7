//! The decisions of growing a stacked etcd one member at a time: what a joining control plane
//! does with the member list it sees ([`plan_join`]), the `--initial-cluster` it then starts with
//! ([`initial_cluster`]), whether its learner may be promoted ([`is_promotable`]), and which of
//! etcd's refusals pass with time ([`retryable`]). Also the member list of the v3 JSON gateway
//! ([`parse_members`]). Pure: no request is made here.
//!
//! A member is ours when it has our name or our peer URL. A member `member add` made but whose
//! etcd never started has no name yet: only its peer URL says whose it is.

/// One etcd member, as the gateway's member list has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// Empty until the member's etcd has started and published its name.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl Member {
    /// Whether its etcd ever started (it published a name).
    pub fn started(&self) -> bool {
        !self.name.is_empty()
    }
}

/// The joining member: its name (the node's) and the peer URL it advertises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub name: String,
    pub peer_url: String,
}

impl Me {
    /// Whether `member` is this node's: the same name, or the same peer URL.
    pub fn owns(&self, member: &Member) -> bool {
        (member.started() && member.name == self.name)
            || member.peer_urls.iter().any(|u| same_url(u, &self.peer_url))
    }
}

/// Peer URLs compared as etcd writes them, but without a trailing `/` or case in the scheme and
/// host mattering.
fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// What a joining member does before its etcd starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinPlan {
    /// Our data directory holds a member the cluster still has: start it as it is.
    Start,
    /// Our data directory holds a member the cluster no longer has; why, to be shown as is.
    Refuse(String),
    /// A member of ours the cluster still has, but whose data is gone (or which never started):
    /// remove it, then plan again (which then says [`JoinPlan::Add`]).
    Remove(Member),
    /// Not a member: `member add --learner`.
    Add,
}

/// What to do, from the member list and whether our data directory already holds a member
/// (`<data-dir>/member/snap/db` or `<data-dir>/member/wal`).
pub fn plan_join(members: &[Member], me: &Me, has_data: bool) -> JoinPlan {
    let ours = members.iter().find(|m| me.owns(m));
    match (has_data, ours) {
        (true, Some(_)) => JoinPlan::Start,
        (true, None) => JoinPlan::Refuse(format!(
            "the cluster has no member {} ({}) but this node's etcd data directory holds one: \
             the member was removed, so its data can never rejoin; wipe the data directory and \
             join again",
            me.name, me.peer_url
        )),
        (false, Some(stale)) => JoinPlan::Remove(stale.clone()),
        (false, None) => JoinPlan::Add,
    }
}

/// `--initial-cluster` for a member started with `--initial-cluster-state=existing` right after
/// its `member add`: `name=peerURL` of every member (each peer URL of a member with several),
/// our unstarted member named as us with the peer URL we advertise, sorted by name then URL. A member that is neither started
/// nor ours (another node's add in flight) has no name etcd would accept and is left out.
pub fn initial_cluster(members_after_add: &[Member], me: &Me) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for member in members_after_add {
        if me.owns(member) {
            // Ours exactly as we advertise it: etcd checks our entry against
            // `--initial-advertise-peer-urls`.
            pairs.push((me.name.clone(), me.peer_url.clone()));
        } else if member.started() {
            for url in &member.peer_urls {
                pairs.push((member.name.clone(), url.clone()));
            }
        }
    }
    pairs.sort();
    pairs.dedup();
    pairs
        .iter()
        .map(|(name, url)| format!("{name}={url}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Our member in the list, if any.
pub fn find<'a>(members: &'a [Member], me: &Me) -> Option<&'a Member> {
    members.iter().find(|m| me.owns(m))
}

/// Whether `member` may be asked to become a voting member: a learner whose etcd has started.
/// (etcd also wants it in sync with the leader, which only etcd knows: [`retryable`] says so.)
pub fn is_promotable(member: &Member) -> bool {
    member.is_learner && member.started()
}

/// Whether an error of a membership call (etcd's message, or why there was no answer) may pass
/// with time: too many learners, not enough started members, an unhealthy or leaderless cluster,
/// a learner not in sync yet, a changed leader, timeouts and connection errors. Not retryable:
/// a member not found, a peer URL already taken, a member that is not a learner, certificates
/// refused.
pub fn retryable(message: &str) -> bool {
    const PASSING: &[&str] = &[
        "too many learner members in cluster",
        "not enough started members",
        "unhealthy cluster",
        "local member has not been connected to all peers",
        "in sync with leader",
        "leader changed",
        "no leader",
        "not leader",
        "timed out",
        "timeout",
        "deadline exceeded",
        "no answer",
        "connection refused",
        "connection reset",
        "connection closed",
        "broken pipe",
        "tcp connect error",
        "unavailable",
        "too many requests",
        "server is stopping",
    ];
    let message = message.to_ascii_lowercase();
    PASSING.iter().any(|p| message.contains(p))
}

/// The members of the gateway's `POST /v3/cluster/member/list` answer (also the `members` of a
/// `member/add` answer), or `None` when `value` holds no member list. The gateway writes the
/// 64-bit IDs as decimal strings, leaves `isLearner` out when false and `name` out for a member
/// that never started.
pub fn parse_members(value: &serde_json::Value) -> Option<Vec<Member>> {
    value["members"]
        .as_array()?
        .iter()
        .map(parse_member)
        .collect()
}

/// One member object of the gateway's JSON.
pub fn parse_member(m: &serde_json::Value) -> Option<Member> {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect()
    };
    let id = match &m["ID"] {
        serde_json::Value::String(s) => s.parse::<u64>().ok()?,
        other => other.as_u64()?,
    };
    Some(Member {
        id,
        name: m["name"].as_str().unwrap_or_default().to_owned(),
        peer_urls: strings(&m["peerURLs"]),
        client_urls: strings(&m["clientURLs"]),
        is_learner: m["isLearner"].as_bool().unwrap_or(false),
    })
}

/// An ID as etcd's logs and `etcdctl` show it: hexadecimal.
pub fn hex(id: u64) -> String {
    format!("{id:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, name: &str, peer: &str, learner: bool) -> Member {
        Member {
            id,
            name: name.into(),
            peer_urls: vec![peer.into()],
            client_urls: if name.is_empty() {
                Vec::new()
            } else {
                vec![peer.replace(":2380", ":2379")]
            },
            is_learner: learner,
        }
    }

    fn node(n: u8) -> Member {
        member(
            u64::from(n) * 1000 + 7,
            &format!("node{n}"),
            &format!("https://192.0.2.1{n}:2380"),
            false,
        )
    }

    fn me(n: u8) -> Me {
        Me {
            name: format!("node{n}"),
            peer_url: format!("https://192.0.2.1{n}:2380"),
        }
    }

    #[test]
    fn a_new_node_of_a_one_member_cluster_is_added() {
        let members = [node(1)];
        assert_eq!(plan_join(&members, &me(2), false), JoinPlan::Add);
        // After the add, the list has our unstarted learner.
        let after = [node(1), member(9, "", "https://192.0.2.12:2380", true)];
        assert_eq!(
            initial_cluster(&after, &me(2)),
            "node1=https://192.0.2.11:2380,node2=https://192.0.2.12:2380"
        );
    }

    #[test]
    fn a_restarted_member_with_its_data_starts_as_it_is() {
        let members = [node(1), node(2), node(3)];
        assert_eq!(plan_join(&members, &me(2), true), JoinPlan::Start);
        // Found by peer URL alone: a learner that started but is listed before its name
        // propagated, or one renamed.
        let renamed = [node(1), member(5, "", "https://192.0.2.12:2380", true)];
        assert_eq!(plan_join(&renamed, &me(2), true), JoinPlan::Start);
        // Found by name alone (its peer URL changed with a new address).
        let moved = [
            node(1),
            member(5, "node2", "https://192.0.2.99:2380", false),
        ];
        assert_eq!(plan_join(&moved, &me(2), true), JoinPlan::Start);
    }

    #[test]
    fn data_of_a_removed_member_is_refused_and_says_to_wipe_it() {
        let members = [node(1), node(3)];
        match plan_join(&members, &me(2), true) {
            JoinPlan::Refuse(why) => {
                assert!(why.contains("node2"), "{why}");
                assert!(why.contains("removed"), "{why}");
                assert!(why.contains("wipe the data directory"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_member_whose_data_was_lost_is_removed_then_added() {
        let members = [node(1), node(2), node(3)];
        assert_eq!(
            plan_join(&members, &me(2), false),
            JoinPlan::Remove(node(2))
        );
        let after_remove = [node(1), node(3)];
        assert_eq!(plan_join(&after_remove, &me(2), false), JoinPlan::Add);
    }

    #[test]
    fn a_stale_member_of_the_same_name_with_another_id_and_url_is_removed() {
        let stale = member(77, "node2", "https://192.0.2.99:2380", false);
        let members = [node(1), stale.clone()];
        assert_eq!(plan_join(&members, &me(2), false), JoinPlan::Remove(stale));
    }

    #[test]
    fn two_stale_members_one_by_name_one_by_url_are_removed_one_at_a_time() {
        let by_name = member(77, "node2", "https://192.0.2.99:2380", false);
        let by_url = member(78, "", "https://192.0.2.12:2380", true);
        let members = vec![node(1), by_name.clone(), by_url.clone()];
        let JoinPlan::Remove(first) = plan_join(&members, &me(2), false) else {
            panic!()
        };
        assert_eq!(first, by_name);
        let rest: Vec<Member> = members.into_iter().filter(|m| m.id != first.id).collect();
        assert_eq!(plan_join(&rest, &me(2), false), JoinPlan::Remove(by_url));
    }

    #[test]
    fn an_unstarted_learner_of_ours_is_removed_and_added_again() {
        let unstarted = member(9, "", "https://192.0.2.12:2380", true);
        let members = [node(1), unstarted.clone()];
        assert_eq!(
            plan_join(&members, &me(2), false),
            JoinPlan::Remove(unstarted)
        );
    }

    #[test]
    fn another_nodes_unstarted_learner_is_not_ours() {
        let theirs = member(9, "", "https://192.0.2.13:2380", true);
        let members = [node(1), theirs];
        assert_eq!(plan_join(&members, &me(2), false), JoinPlan::Add);
        // Nor is it named in our initial cluster: it has no name to give.
        let after = [
            node(1),
            member(9, "", "https://192.0.2.13:2380", true),
            member(10, "", "https://192.0.2.12:2380", true),
        ];
        assert_eq!(
            initial_cluster(&after, &me(2)),
            "node1=https://192.0.2.11:2380,node2=https://192.0.2.12:2380"
        );
    }

    #[test]
    fn two_learners_and_a_started_learner() {
        let members = [
            node(1),
            member(20, "node3", "https://192.0.2.13:2380", true),
            member(21, "", "https://192.0.2.12:2380", true),
        ];
        assert_eq!(
            initial_cluster(&members, &me(2)),
            "node1=https://192.0.2.11:2380,node2=https://192.0.2.12:2380,\
             node3=https://192.0.2.13:2380"
        );
        assert!(is_promotable(&members[1]));
        assert!(!is_promotable(&members[2]), "never started");
        assert!(!is_promotable(&members[0]), "already voting");
        assert_eq!(find(&members, &me(2)).map(|m| m.id), Some(21));
        assert_eq!(find(&members, &me(3)).map(|m| m.id), Some(20));
        assert_eq!(find(&members, &me(4)), None);
    }

    #[test]
    fn initial_cluster_is_sorted_and_keeps_every_peer_url() {
        let mut multi = node(3);
        multi.peer_urls = vec![
            "https://192.0.2.13:2380".into(),
            "https://198.51.100.13:2380".into(),
        ];
        let members = [
            multi,
            node(1),
            member(5, "", "https://192.0.2.12:2380", true),
        ];
        assert_eq!(
            initial_cluster(&members, &me(2)),
            "node1=https://192.0.2.11:2380,node2=https://192.0.2.12:2380,\
             node3=https://192.0.2.13:2380,node3=https://198.51.100.13:2380"
        );
        let reversed: Vec<Member> = members.iter().rev().cloned().collect();
        assert_eq!(
            initial_cluster(&reversed, &me(2)),
            initial_cluster(&members, &me(2))
        );
    }

    #[test]
    fn ipv6_peer_urls() {
        let me6 = Me {
            name: "node2".into(),
            peer_url: "https://[fd00::12]:2380".into(),
        };
        let members = [
            member(1, "node1", "https://[fd00::11]:2380", false),
            member(2, "", "https://[FD00::12]:2380/", true),
        ];
        assert_eq!(find(&members, &me6).map(|m| m.id), Some(2));
        assert_eq!(
            plan_join(&members, &me6, false),
            JoinPlan::Remove(members[1].clone())
        );
        assert_eq!(
            initial_cluster(&members, &me6),
            "node1=https://[fd00::11]:2380,node2=https://[fd00::12]:2380"
        );
        assert_eq!(plan_join(&members[..1], &me6, false), JoinPlan::Add);
    }

    #[test]
    fn an_empty_name_never_matches_an_unstarted_member_by_name() {
        let nameless = Me {
            name: String::new(),
            peer_url: "https://192.0.2.12:2380".into(),
        };
        let other = member(9, "", "https://192.0.2.13:2380", true);
        assert_eq!(find(&[other], &nameless), None);
    }

    #[test]
    fn etcds_passing_refusals_are_retryable() {
        for message in [
            "etcdserver: too many learner members in cluster",
            "etcdserver: re-configuration failed due to not enough started members",
            "etcdserver: unhealthy cluster",
            "rejecting member add request; local member has not been connected to all peers",
            "etcdserver: can only promote a learner member which is in sync with leader",
            "etcdserver: leader changed",
            "etcdserver: no leader",
            "etcdserver: request timed out",
            "etcdserver: request timed out, possibly due to previous leader failure",
            "context deadline exceeded",
            "https://192.0.2.11:2379: tcp connect error: Connection refused (os error 111)",
            "https://192.0.2.11:2379: no answer in 20s",
            "rpc error: code = Unavailable desc = etcdserver: server is stopping",
        ] {
            assert!(retryable(message), "{message}");
        }
        for message in [
            "etcdserver: member not found",
            "etcdserver: Peer URLs already exists",
            "etcdserver: can only promote a learner member",
            "etcdserver: ID removed",
            "invalid peer certificate: UnknownIssuer",
            "etcdserver: bad certificate",
        ] {
            assert!(!retryable(message), "{message}");
        }
    }

    #[test]
    fn the_gateways_member_list() {
        let body: serde_json::Value = serde_json::from_str(
            r#"{"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437",
                "raft_term":"2"},
               "members":[
                 {"ID":"10276657743932975437","name":"node1","peerURLs":["https://192.0.2.11:2380"],
                  "clientURLs":["https://192.0.2.11:2379"]},
                 {"ID":"255","peerURLs":["https://192.0.2.12:2380"],"isLearner":true}]}"#,
        )
        .unwrap();
        let members = parse_members(&body).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[0].id, 10_276_657_743_932_975_437);
        assert_eq!(hex(members[0].id), "8e9e05c52164694d");
        assert!(!members[0].is_learner && members[0].started());
        assert_eq!(members[0].client_urls, ["https://192.0.2.11:2379"]);
        assert_eq!(members[1].id, 255);
        assert!(members[1].is_learner && !members[1].started());
        assert!(members[1].client_urls.is_empty());
        assert_eq!(parse_members(&serde_json::json!({})), None);
        assert_eq!(
            parse_members(&serde_json::json!({"members": [{"ID": "x"}]})),
            None
        );
        assert_eq!(
            parse_member(&serde_json::json!({"ID": 7, "name": "a"})).map(|m| m.id),
            Some(7)
        );
    }
}
