module github.com/msixguard/msixguard

go 1.26.8
