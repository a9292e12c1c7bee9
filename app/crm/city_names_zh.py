"""Chinese names of the cities that GeoNames names wrongly or not at all in Chinese, by GeoNames id."""

# Where the rule of app.crm.places picks a wrong Chinese name (an old name, a neighbour's) or none. The first come
# from the control cities of network/data/cn_expressways.geojson, whose Chinese names are sourced.
CORRECTIONS = {
    1816336: "滨州",  # Binzhou: GeoNames gives 浜州
    1816329: "璧山",  # Bishan: GeoNames gives 璧城
    2037078: "海拉尔",  # Hailar: GeoNames gives 海拉尔区
    1808981: "韩城",  # Hancheng: no Chinese alternate name
    2036713: "桓仁",  # Huanren: no Chinese alternate name
    2036536: "蛟河",  # Jiaohe: GeoNames gives 民主
    1803782: "利川",  # Lichuan: no Chinese alternate name
    12324550: "灵武",  # Lingwu: no Chinese alternate name
    1813033: "黎平",  # Liping: no Chinese alternate name
    1280623: "芒市",  # Mangshi: GeoNames gives 芒
    8544703: "南川",  # Nanchuan: GeoNames gives 东城
    1786067: "潜江",  # Qianjiang (Hubei): GeoNames gives 园林
    8408334: "黔江",  # Qianjiang (Chongqing): GeoNames gives 城西
    1786731: "青州",  # Qingzhou: no Chinese alternate name
    12358576: "万州",  # Wanzhou: GeoNames gives 万州区
    1790920: "巫山",  # Wushan: GeoNames gives 巫峡
    1790371: "仙桃",  # Xiantao: no Chinese alternate name
    1789262: "新沂",  # Xinyi: GeoNames gives 新安
    1790587: "襄阳",  # Xiangyang: renamed from 襄樊 in 2010
    1808956: "长治",  # Changzhi: no Chinese alternate name
    7283386: "常熟",  # Changshu: no alternate names at all
    13308620: "宝安",  # Bao'an: no alternate names at all
    # Cities of 100,000 people or more (where scans are placed) that GeoNames gives no Chinese name.
    13405906: "罗湖",  # Luohu District, Guangdong
    7602670: "诸城",  # Zhu Cheng City, Shandong
    1815463: "长治",  # Changzhi, Shanxi
    2035513: "盘山",  # Panshan, Liaoning
    1806096: "胶州",  # Jiaozhou, Shandong
    12492662: "绵竹",  # Mianzhu, Deyang, Sichuan, Sichuan
    13527052: "城关",  # Chéngguān Qū, Tibet
    1794794: "寿光",  # Shouguang, Shandong
    1792260: "瓦房店",  # Wafangdian, Liaoning
    2038365: "北安",  # Bei’an, Heilongjiang
    1810458: "高密",  # Gaomi, Shandong
    7304020: "凤凰",  # Fenghuang, Hunan
    1817990: "安丘",  # Anqiu, Shandong
    1799823: "南桥",  # Nanqiao, Shanghai
    1798900: "彭泽",  # Pengze, Jiangxi
    1813206: "大冶",  # Daye, Hubei
    12277239: "云龙",  # Yunlong, Jiangsu
    1785716: "邳州",  # Pizhou, Jiangsu
    1794479: "莱西",  # Laixi, Shandong
    1803364: "临朐",  # Linqu, Shandong
    12492660: "龙陵",  # Longling County, Yunnan
    2036670: "富拉尔基",  # Hulan Ergi, Heilongjiang
    1815669: "昌乐",  # Changle, Shandong
    10942183: "如皋",  # Rugao, Jiangsu
    1793899: "睢城",  # Suicheng, Jiangsu
    1787031: "兖州",  # Yanzhou, Shandong
    1806988: "华阴",  # Huayin, Shaanxi
    1805618: "竟陵",  # Jingling, Hubei
    1788618: "新泰",  # Xintai, Shandong
    12358616: "印台",  # Yintai, Shaanxi
    1805298: "金州",  # Jinzhou, Liaoning
    1808931: "汉沽",  # Hangu, Tianjin
    13512708: "林芝",  # Nyingchi, Tibet
    1803551: "北流",  # Beiliu, Guangxi
    1798972: "沛城",  # Peicheng, Jiangsu
    1811619: "鄂州",  # Ezhou, Hubei
    2038342: "北票",  # Beipiao, Liaoning
    1785462: "枣阳",  # Zaoyang, Hubei
    12492669: "平武",  # Pingwu County, Sichuan
    1789137: "新堤",  # Xindi, Hubei
    2037620: "东陵",  # Dongling, Liaoning
    1804586: "莱阳",  # Laiyang, Shandong
    1811200: "凤城",  # Fengcheng, Jiangsu
    1816265: "博山",  # Boshan, Shandong
    2037201: "北宁",  # Beining, Liaoning
    2034638: "苏家屯",  # Sujiatun, Liaoning
    2037222: "公主岭",  # Gongzhuling, Jilin
    2037335: "扶余",  # Fuyu, Jilin
    7303248: "嘉善",  # Jiashan, Zhejiang
    1805962: "贾汪",  # Jiawang, Jiangsu
    1798473: "蒲圻",  # Puqi, Hubei
    1813344: "大武口",  # Dawukou, Ningxia
    13527315: "花王堂区",  # Santo António, Guangdong
    1280037: "莎车",  # Shache, Xinjiang
    1885823: "江油",  # Jiangyou, Sichuan
    1805543: "景芝",  # Jingzhi, Shandong
    13527308: "花地玛堂区",  # Nossa Senhora de Fátima, Guangdong
    1789703: "夏镇",  # Xiazhen, Shandong
    1796421: "沙河城",  # Shahecheng, Hebei
    1807112: "黄州",  # Huangzhou, Hubei
    1788268: "绣林",  # Xiulin, Hubei
    1784178: "周村",  # Zhoucun, Shandong
    2037411: "凤城",  # Fengcheng, Liaoning
    13308659: "宝安",  # Bao'an Centre, Guangdong
    1815276: "城固",  # Chenggu, Shaanxi
    1800498: "明水",  # Mingshui, Shandong
    1791706: "瓦窑堡",  # Wayaobu, Shaanxi
    2036337: "开原",  # Kaiyuan, Liaoning
    1813425: "大屯",  # Datun, Jiangsu
    1786546: "钟祥",  # Zhongxiang, Hubei
    1784820: "兴化",  # Xinghua, Jiangsu
    12324302: "益都",  # Yidu, Shandong
    2036418: "吉舒",  # Jishu, Jilin
}
