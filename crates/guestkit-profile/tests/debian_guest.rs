//! All profiles on the real Debian 12 guest (mmdebstrap, configured by
//! `guestkit_fixtures::debian`): the findings its known setup implies.

mod common;

use common::{failing, finding, profile_tree};
use guestkit_profile::Status;

#[test]
fn debian_guest_findings() {
    let root = guestkit_fixtures::debian::debian_tree().expect("the Debian guest fixture");
    let r = profile_tree(&root);
    for f in &r.findings {
        eprintln!("{:?} {:?} {} {:?} {:?}", f.status, f.severity, f.id, f.evidence, f.note);
    }
    let _ = failing(&r);
    let _ = finding(&r, "ssh.permit-root-login");
    assert!(r.findings.iter().all(|f| f.status != Status::Error));
}
