//! The demo VM disk the repository ships (`demo/demo.qcow2`): a small GPT
//! disk laid out like a real server — EFI system partition, `/boot` (ext4),
//! swap, and an LVM physical volume holding `/` and `/var` (ext4) and `/home`
//! (Btrfs subvolume `@home`, zstd-compressed), tied together by the guest's
//! `/etc/fstab` — as a compressed qcow2 of well under a MiB. Its root holds
//! Debian 12's release files, a dpkg database on `/var`, and a real
//! x86_64 program (`/usr/bin/true`, written here) whose ELF header gives
//! the architecture.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::disks::{sparse_file, splice};
use crate::lvm::{write_vg, LvSpec, PvSpec, SegmentSpec, VgSpec};
use crate::tools::{arg, run, run_with_stdin};
use crate::tree::write_sample_tree;
use crate::{cached, FixtureError, Result};

const MIB: u64 = 1 << 20;

/// The guest's `/etc/fstab`: device names in the forms real systems use.
const FSTAB: &str = "# /etc/fstab of the guestkit demo VM
/dev/mapper/demo-root                       /      ext4   errors=remount-ro  0 1
UUID=de30b007-0000-4000-8000-000000000001  /boot  ext4   defaults           0 2
UUID=DE30-EF10                              /boot/efi vfat umask=0077        0 1
/dev/demo/var                               /var   ext4   defaults           0 2
LABEL=home                                  /home  btrfs  subvol=@home,compress=zstd 0 0
UUID=de305a90-0000-4000-8000-000000000002  none   swap   sw                 0 0
proc                                        /proc  proc   defaults           0 0
";

/// The dpkg database of the demo (on its `/var` volume): a few of Debian
/// 12's packages, one removed with its configuration kept.
const DPKG_STATUS: &str = "Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u7
Description: Debian base system miscellaneous files

Package: bash
Essential: yes
Status: install ok installed
Priority: required
Section: shells
Installed-Size: 7163
Maintainer: Matthias Klose <doko@debian.org>
Architecture: amd64
Version: 5.2.15-2+b7
Description: GNU Bourne Again SHell

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12988
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u8
Description: GNU C Library: Shared libraries

Package: openssh-server
Status: install ok installed
Priority: optional
Section: net
Installed-Size: 1973
Maintainer: Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u3
Description: secure shell (SSH) server, for secure access from remote machines

Package: coreutils
Essential: yes
Status: install ok installed
Priority: required
Section: utils
Installed-Size: 18062
Maintainer: Michael Stone <mstone@debian.org>
Architecture: amd64
Source: coreutils (9.1-1)
Version: 9.1-1
Description: GNU core utilities

Package: telnet
Status: deinstall ok config-files
Priority: standard
Section: net
Architecture: amd64
Version: 0.17+2.4-2
Description: basic telnet client
";

/// The demo's accounts, groups, sshd settings and systemd layout: small,
/// but what a real Debian server has (`(path, content)`; links below).
const ROOT_FILES: &[(&str, &str)] = &[
    (
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n\
         demo:x:1000:1000:Demo User,,,:/home/user:/bin/bash\n",
    ),
    (
        "etc/shadow",
        "root:*:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\nsshd:!:19700::::::\n\
         demo:$y$j9T$Jt3T5.wNnZtYS3CEPS3Vd/$9YtRM8l6aZTq7pYuRQwWnEnCWAX6jLFXmlJ5T6LzGr6:19700:0:99999:7:::\n",
    ),
    (
        "etc/group",
        "root:x:0:\ndaemon:x:1:\nsudo:x:27:demo\nnogroup:x:65534:\ndemo:x:1000:\n",
    ),
    (
        "etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\nUsePAM yes\n\
         X11Forwarding yes\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
    ),
    ("etc/ssh/sshd_config.d/10-demo.conf", "PermitRootLogin no\nPasswordAuthentication no\n"),
    (
        "usr/lib/systemd/system/ssh.service",
        "[Unit]\nDescription=OpenBSD Secure Shell server\nAfter=network.target\n\n\
         [Service]\nExecStart=/usr/sbin/sshd -D\n\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n",
    ),
    (
        "usr/lib/systemd/system/multi-user.target",
        "[Unit]\nDescription=Multi-User System\n",
    ),
];

/// Symlinks of the demo root: (link, target).
const ROOT_LINKS: &[(&str, &str)] = &[
    ("sbin/init", "../usr/lib/systemd/systemd"),
    (
        "etc/systemd/system/default.target",
        "/usr/lib/systemd/system/multi-user.target",
    ),
    (
        "etc/systemd/system/multi-user.target.wants/ssh.service",
        "/usr/lib/systemd/system/ssh.service",
    ),
    (
        "etc/systemd/system/sshd.service",
        "/usr/lib/systemd/system/ssh.service",
    ),
    ("etc/localtime", "/usr/share/zoneinfo/Etc/UTC"),
];

/// A complete x86_64 Linux program that exits with status 0 (`true`): an
/// ELF header, one loadable segment, and `mov eax, 60; xor edi, edi;
/// syscall`.
pub fn tiny_true_x86_64() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const CODE: [u8; 9] = [0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05];
    let total = 64 + 56 + CODE.len() as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend_from_slice(&2u16.to_le_bytes()); // executable
    elf.extend_from_slice(&62u16.to_le_bytes()); // x86_64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + 120).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, BASE, BASE, total, total, 0x1000] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&CODE);
    elf
}

/// Where the demo disk is committed in the repository.
pub fn committed_demo() -> PathBuf {
    crate::workspace_root().join("demo").join("demo.qcow2")
}

/// Builds (or finds cached) the demo disk; returns the qcow2.
pub fn demo_disk() -> Result<PathBuf> {
    let dir = cached("demo", include_str!("demo.rs"), build)?;
    Ok(dir.join("demo.qcow2"))
}

fn ext4_image(path: &Path, tree: &Path, size: u64, label: &str, uuid: &str) -> Result<()> {
    sparse_file(path, size)?;
    run(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            arg(tree)?,
            "-L",
            label,
            "-U",
            uuid,
            arg(path)?,
        ],
    )
    .map(|_| ())
}

fn build(dir: &Path) -> Result<()> {
    let raw = dir.join("demo.raw");
    sparse_file(&raw, 53 * MIB)?;
    let script = "label: gpt\nlabel-id: 0D3E5A1C-6B7F-4C2D-9E1F-2A3B4C5D6E7F\nunit: sectors\nfirst-lba: 2048\n\
        start=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI System Partition\", uuid=D3E0A1B2-0001-4000-8000-00000000000A\n\
        start=10240, size=16384, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, name=\"boot\", uuid=D3E0A1B2-0002-4000-8000-00000000000B\n\
        start=26624, size=4096, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"swap\", uuid=D3E0A1B2-0003-4000-8000-00000000000C\n\
        start=30720, size=73728, type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name=\"lvm\", uuid=D3E0A1B2-0004-4000-8000-00000000000D\n";
    run_with_stdin("sfdisk", &["--quiet", arg(&raw)?], Some(script.as_bytes()))?;

    let efi = dir.join("efi.img");
    sparse_file(&efi, 4 * MIB)?;
    run("mkfs.vfat", &["-i", "DE30EF10", "-n", "EFI", arg(&efi)?])?;
    let efi_tree = dir.join("efi-tree");
    let grub_efi = efi_tree.join("EFI/debian");
    fs::create_dir_all(&grub_efi).map_err(|e| FixtureError::io(&grub_efi, e))?;
    fs::write(grub_efi.join("grub.cfg"), b"search.fs_uuid de30b007-0000-4000-8000-000000000001 root\nconfigfile ($root)/grub/grub.cfg\n")
        .map_err(|e| FixtureError::io(&grub_efi, e))?;
    run(
        "mcopy",
        &["-s", "-i", arg(&efi)?, arg(&efi_tree.join("EFI"))?, "::/"],
    )?;
    splice(&efi, &raw, 2048 * 512)?;

    let boot_tree = dir.join("boot-tree");
    fs::create_dir_all(boot_tree.join("grub")).map_err(|e| FixtureError::io(&boot_tree, e))?;
    fs::create_dir_all(boot_tree.join("efi")).map_err(|e| FixtureError::io(&boot_tree, e))?;
    fs::write(
        boot_tree.join("grub/grub.cfg"),
        b"set default=0\nmenuentry 'Debian GNU/Linux' {\n  linux /vmlinuz-6.1.0-demo root=/dev/mapper/demo-root ro\n}\n",
    )
    .map_err(|e| FixtureError::io(&boot_tree, e))?;
    let boot = dir.join("boot.img");
    ext4_image(
        &boot,
        &boot_tree,
        8 * MIB,
        "boot",
        "de30b007-0000-4000-8000-000000000001",
    )?;
    splice(&boot, &raw, 10240 * 512)?;

    let swap = dir.join("swap.img");
    sparse_file(&swap, 2 * MIB)?;
    run(
        "mkswap",
        &[
            "-q",
            "-L",
            "swap",
            "-U",
            "de305a90-0000-4000-8000-000000000002",
            arg(&swap)?,
        ],
    )?;
    splice(&swap, &raw, 26624 * 512)?;

    let pv = PvSpec::new("pv0", &raw, 30720 * 512, 36 * MIB, "/dev/vda4");
    let vg = VgSpec::new(
        "demo",
        vec![pv],
        vec![
            LvSpec::new("root", vec![SegmentSpec::linear(0, 0, 12)]),
            LvSpec::new("var", vec![SegmentSpec::linear(0, 12, 4)]),
            LvSpec::new("home", vec![SegmentSpec::linear(0, 16, 16)]),
        ],
    );
    write_vg(&vg)?;
    let root_tree = dir.join("root-tree");
    fs::create_dir_all(&root_tree).map_err(|e| FixtureError::io(&root_tree, e))?;
    write_sample_tree(&root_tree)?;
    for dir in ["boot", "var", "home", "proc"] {
        let d = root_tree.join(dir);
        fs::create_dir_all(&d).map_err(|e| FixtureError::io(&d, e))?;
    }
    let fstab = root_tree.join("etc/fstab");
    fs::write(&fstab, FSTAB).map_err(|e| FixtureError::io(&fstab, e))?;
    for (path, content) in ROOT_FILES {
        let p = root_tree.join(path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| FixtureError::io(parent, e))?;
        }
        fs::write(&p, content).map_err(|e| FixtureError::io(&p, e))?;
    }
    fs::set_permissions(
        root_tree.join("etc/shadow"),
        fs::Permissions::from_mode(0o640),
    )
    .map_err(|e| FixtureError::io(&root_tree, e))?;
    for (link, target) in ROOT_LINKS {
        let p = root_tree.join(link);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| FixtureError::io(parent, e))?;
        }
        std::os::unix::fs::symlink(target, &p).map_err(|e| FixtureError::io(&p, e))?;
    }
    let true_bin = root_tree.join("usr/bin/true");
    fs::write(&true_bin, tiny_true_x86_64()).map_err(|e| FixtureError::io(&true_bin, e))?;
    fs::set_permissions(&true_bin, fs::Permissions::from_mode(0o755))
        .map_err(|e| FixtureError::io(&true_bin, e))?;
    let var_tree = dir.join("var-tree");
    fs::create_dir_all(var_tree.join("log")).map_err(|e| FixtureError::io(&var_tree, e))?;
    fs::write(
        var_tree.join("log/boot.log"),
        b"demo booted once, long ago\n",
    )
    .map_err(|e| FixtureError::io(&var_tree, e))?;
    let dpkg = var_tree.join("lib/dpkg");
    fs::create_dir_all(&dpkg).map_err(|e| FixtureError::io(&dpkg, e))?;
    fs::write(dpkg.join("status"), DPKG_STATUS).map_err(|e| FixtureError::io(&dpkg, e))?;
    // The Btrfs volume's top level holds the subvolume `@home` (what fstab
    // mounts) beside a plain directory for snapshots.
    let home_tree = dir.join("home-tree");
    let user = home_tree.join("@home/user");
    fs::create_dir_all(&user).map_err(|e| FixtureError::io(&user, e))?;
    fs::create_dir_all(home_tree.join("snapshots")).map_err(|e| FixtureError::io(&home_tree, e))?;
    fs::write(user.join(".profile"), b"# demo user\n").map_err(|e| FixtureError::io(&user, e))?;
    let journal: String = (0..2000)
        .map(|i| format!("day {i}: nothing happened, compressibly\n"))
        .collect();
    fs::write(user.join("journal.txt"), journal).map_err(|e| FixtureError::io(&user, e))?;
    for (lv, tree, uuid) in [
        ("root", &root_tree, "de3000f5-0000-4000-8000-000000000003"),
        ("var", &var_tree, "de30fa00-0000-4000-8000-000000000005"),
        ("home", &home_tree, "de30403e-0000-4000-8000-000000000004"),
    ] {
        let img = dir.join(format!("{lv}.img"));
        if lv == "home" {
            // Mixed block groups let Btrfs fit in 16 MiB.
            sparse_file(&img, vg.lv_size(lv))?;
            run(
                "mkfs.btrfs",
                &[
                    "-q",
                    "-M",
                    "-L",
                    "home",
                    "-U",
                    uuid,
                    "--rootdir",
                    arg(tree)?,
                    "--subvol",
                    "rw:@home",
                    "--compress",
                    "zstd",
                    arg(&img)?,
                ],
            )?;
        } else {
            ext4_image(&img, tree, vg.lv_size(lv), lv, uuid)?;
        }
        let data = fs::read(&img).map_err(|e| FixtureError::io(&img, e))?;
        vg.write_lv_data(lv, &data)?;
        fs::remove_file(&img).map_err(|e| FixtureError::io(&img, e))?;
    }
    run(
        "qemu-img",
        &[
            "convert",
            "-c",
            "-O",
            "qcow2",
            arg(&raw)?,
            arg(&dir.join("demo.qcow2"))?,
        ],
    )?;
    Ok(())
}
