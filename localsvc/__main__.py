from localsvc.cli import main

raise SystemExit(main())
