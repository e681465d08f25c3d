use super::*;

fn sh(interpreter: &str, arg: Option<&str>) -> Option<Shebang> {
    Some(Shebang {
        interpreter: interpreter.into(),
        arg: arg.map(Into::into),
    })
}

#[test]
fn plain() {
    assert_eq!(parse_shebang(b"#!/bin/sh\necho hi\n"), sh("/bin/sh", None));
}

#[test]
fn one_argument_keeps_inner_spaces() {
    assert_eq!(
        parse_shebang(b"#! /usr/bin/env python3 -u\nprint()\n"),
        sh("/usr/bin/env", Some("python3 -u"))
    );
    assert_eq!(
        parse_shebang(b"#!\t/bin/awk \t -f  \t\n"),
        sh("/bin/awk", Some("-f"))
    );
}

#[test]
fn trailing_blanks_are_not_an_argument() {
    assert_eq!(parse_shebang(b"#!/bin/sh   \t\n"), sh("/bin/sh", None));
}

#[test]
fn no_newline() {
    assert_eq!(parse_shebang(b"#!/bin/sh"), sh("/bin/sh", None));
    assert_eq!(parse_shebang(b"#!/bin/sh -e"), sh("/bin/sh", Some("-e")));
}

#[test]
fn crlf_keeps_the_cr() {
    // As in Linux: the interpreter becomes "/bin/sh\r", which then fails to open.
    assert_eq!(parse_shebang(b"#!/bin/sh\r\n"), sh("/bin/sh\r", None));
}

#[test]
fn nul_ends_the_line() {
    assert_eq!(parse_shebang(b"#!/bin/sh\0 -x\n"), sh("/bin/sh", None));
    assert_eq!(
        parse_shebang(b"#!/bin/sh -a\0b\n"),
        sh("/bin/sh", Some("-a"))
    );
}

#[test]
fn not_a_script() {
    assert_eq!(parse_shebang(b""), None);
    assert_eq!(parse_shebang(b"#"), None);
    assert_eq!(parse_shebang(b"\x7fELF"), None);
    assert_eq!(parse_shebang(b" #!/bin/sh\n"), None);
    assert_eq!(parse_shebang(b"#!\n"), None);
    assert_eq!(parse_shebang(b"#!   \t \n/bin/sh\n"), None);
    assert_eq!(parse_shebang(b"#!"), None);
    assert_eq!(parse_shebang(b"#!/bin/\xff\n"), None);
}

#[test]
fn long_lines() {
    // Interpreter path cut off by the 256-byte buffer: refused.
    let mut long = b"#!/".to_vec();
    long.extend(vec![b'a'; 300]);
    assert_eq!(parse_shebang(&long), None);
    long.push(b'\n');
    assert_eq!(parse_shebang(&long), None);

    // Interpreter complete, argument cut off: accepted, argument truncated
    // to the first 255 bytes of the file.
    let mut long = b"#!/bin/interp ".to_vec();
    long.extend(vec![b'x'; 300]);
    long.push(b'\n');
    let got = parse_shebang(&long).unwrap();
    assert_eq!(got.interpreter, "/bin/interp");
    assert_eq!(got.arg.unwrap().len(), 255 - 14);

    // Interpreter ending exactly at byte 255 still counts as complete.
    let mut edge = b"#!/".to_vec();
    edge.extend(vec![b'b'; 252]);
    edge.push(b' ');
    assert_eq!(edge.len(), 256);
    edge.extend(b"more");
    assert_eq!(parse_shebang(&edge).unwrap().interpreter.len(), 253);

    // A newline within the first 256 bytes makes any length before it fine.
    let mut fits = b"#!/".to_vec();
    fits.extend(vec![b'c'; 250]);
    fits.push(b'\n');
    assert_eq!(parse_shebang(&fits).unwrap().interpreter.len(), 251);
}
